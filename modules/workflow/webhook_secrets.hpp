#pragma once
// Webhook secrets live in the vault (core/vault, issue 19 item 11), owner "workflow", name
// "<workflow id>/webhook/<METHOD>/<path>". A stored definition holds the placeholder kHiddenSecret
// where the secret was; the triggers read the secrets of the active workflows from the vault when
// they are loaded, so the webhook path reads nothing. docs/workflows.md, "Authenticating webhooks".
#include <boost/json/fwd.hpp>

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace soci {
class session;
}

namespace arclight {
class Vault;
}

namespace arclight::workflow {

class Store;

inline constexpr std::string_view kVaultOwner = "workflow";

/// The vault name of the secret of a workflow's webhook trigger (method upper case, path without
/// leading slash).
std::string webhook_secret_name(std::string_view workflow_id, std::string_view method, std::string_view path);
/// The prefix of every vault name of a workflow.
std::string webhook_secret_prefix(std::string_view workflow_id);

/// One webhook secret of a definition.
struct WebhookSecret {
    std::string method, path, secret;
};

/// Takes every webhook secret out of a definition document about to be stored: each is replaced
/// by kHiddenSecret and returned (placeholders already there are not returned).
std::vector<WebhookSecret> take_webhook_secrets(boost::json::object& definition);

/// In a submitted definition: every webhook secret given as kHiddenSecret takes the secret the
/// trigger with the same method and path has in `previous` (the stored definition): its text when
/// it is there (a definition from before the vault), else `stored(method, path)` (the vault).
void keep_webhook_secrets(boost::json::object& definition, const boost::json::object& previous,
                          const std::function<std::optional<std::string>(const std::string& method, const std::string& path)>& stored);
/// The webhooks of `definition` whose secret is kHiddenSecret with nothing to keep it from in
/// `previous` (no webhook of the same method and path with a secret there), as "METHOD /path":
/// restoring an old version must not leave a webhook whose secret is gone.
std::vector<std::string> unkept_webhook_secrets(const boost::json::object& definition, const boost::json::object& previous);

/// Inside the caller's transaction: the vault holds exactly `secrets` for the workflow `id`.
void save_webhook_secrets(soci::session& s, const Vault& vault, const std::string& id, const std::vector<WebhookSecret>& secrets);

/// Start-up: definitions stored before the vault carry their webhook secrets in plain text (in the
/// workflows row and every version). In one transaction, the current definitions' secrets go into
/// the vault and every stored definition is rewritten with the placeholder. Returns the number of
/// rows rewritten. Throws (start refused) when there are some and the vault has no key.
std::size_t move_plaintext_webhook_secrets(soci::session& s, Store& store, const Vault& vault, bool sqlite);

}  // namespace arclight::workflow
