#include "modules/workflow/webhook_secrets.hpp"

#include "modules/workflow/store.hpp"
#include "modules/workflow/webhook_auth.hpp"

#include "core/db/db.hpp"
#include "core/errors/error.hpp"
#include "core/log/log.hpp"
#include "core/vault/vault.hpp"

#include <boost/json.hpp>

#include <algorithm>
#include <cctype>
#include <set>

namespace arclight::workflow {
namespace json = boost::json;

namespace {

std::string upper_method(const json::value* v) {
    std::string m = v && v->is_string() ? std::string(v->as_string()) : "POST";
    std::transform(m.begin(), m.end(), m.begin(), [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
    return m;
}

std::string path_of(const json::value* v) {
    std::string p = v && v->is_string() ? std::string(v->as_string()) : "";
    while (!p.empty() && p.front() == '/') p.erase(0, 1);
    return p;
}

// Calls f(trigger, auth object, secret value) for each webhook trigger whose auth has a secret.
template <class F>
void each_secret(json::object& definition, F f) {
    for_each_webhook_auth(definition, [&f](json::object& trigger, json::object& auth) {
        auto* s = auth.if_contains("secret");
        if (s && s->is_string()) f(trigger, auth, s->as_string());
    });
}

}  // namespace

std::string webhook_secret_prefix(std::string_view workflow_id) { return std::string(workflow_id) + "/"; }

std::string webhook_secret_name(std::string_view workflow_id, std::string_view method, std::string_view path) {
    return webhook_secret_prefix(workflow_id) + "webhook/" + std::string(method) + "/" + std::string(path);
}

std::vector<WebhookSecret> take_webhook_secrets(json::object& definition) {
    std::vector<WebhookSecret> out;
    each_secret(definition, [&](json::object& trigger, json::object& auth, json::string& secret) {
        if (secret == kHiddenSecret) return;
        out.push_back({upper_method(trigger.if_contains("method")), path_of(trigger.if_contains("path")), std::string(secret.data(), secret.size())});
        auth["secret"] = json::string(kHiddenSecret);
    });
    return out;
}

void keep_webhook_secrets(json::object& definition, const json::object& previous,
                          const std::function<std::optional<std::string>(const std::string&, const std::string&)>& stored) {
    json::object old = previous;
    each_secret(definition, [&](json::object& trigger, json::object& auth, json::string& secret) {
        if (secret != kHiddenSecret) return;
        std::string method = upper_method(trigger.if_contains("method")), path = path_of(trigger.if_contains("path"));
        std::optional<std::string> kept;
        each_secret(old, [&](json::object& t, json::object&, json::string& s) {
            if (upper_method(t.if_contains("method")) != method || path_of(t.if_contains("path")) != path) return;
            kept = s != kHiddenSecret ? std::optional<std::string>(std::string(s.data(), s.size())) : stored(method, path);
        });
        if (kept) auth["secret"] = json::string(*kept);
    });
}

std::vector<std::string> unkept_webhook_secrets(const json::object& definition, const json::object& previous) {
    json::object doc = definition, old = previous;
    std::vector<std::string> out;
    each_secret(doc, [&](json::object& trigger, json::object&, json::string& secret) {
        if (secret != kHiddenSecret) return;
        std::string method = upper_method(trigger.if_contains("method")), path = path_of(trigger.if_contains("path"));
        bool kept = false;
        each_secret(old, [&](json::object& t, json::object&, json::string&) {
            kept = kept || (upper_method(t.if_contains("method")) == method && path_of(t.if_contains("path")) == path);
        });
        if (!kept) out.push_back(method + " /" + path);
    });
    return out;
}

void save_webhook_secrets(soci::session& s, const Vault& vault, const std::string& id, const std::vector<WebhookSecret>& secrets) {
    std::set<std::string> wanted;
    for (const auto& w : secrets) wanted.insert(webhook_secret_name(id, w.method, w.path));
    for (const auto& name : vault.names(s, kVaultOwner, webhook_secret_prefix(id)))
        if (!wanted.count(name)) vault.remove(s, kVaultOwner, name);
    for (const auto& w : secrets) vault.put(s, kVaultOwner, webhook_secret_name(id, w.method, w.path), w.secret);
}

std::size_t move_plaintext_webhook_secrets(soci::session& s, Store& store, const Vault& vault, bool sqlite) {
    WriteTransaction tx(s, sqlite);
    std::size_t rewritten = 0;
    for (auto& row : store.definitions_with_auth(s)) {
        boost::system::error_code ec;
        auto doc = json::parse(row.definition, ec);
        if (ec || !doc.is_object()) continue;
        auto secrets = take_webhook_secrets(doc.as_object());
        if (secrets.empty()) continue;
        // The workflows row is the current definition: its secrets are the ones the triggers use.
        // Older versions only lose theirs (a run never needs a webhook secret).
        if (row.current) {
            try {
                save_webhook_secrets(s, vault, row.workflow_id, secrets);
            } catch (const Error& e) {
                throw std::runtime_error("workflow " + row.workflow_id +
                                         " has webhook secrets stored in plain text, which move into the vault at start: " +
                                         e.detail());
            }
        }
        row.definition = json::serialize(doc);
        store.replace_definition(s, row);
        ++rewritten;
    }
    tx.commit();
    if (rewritten > 0)
        log::info("workflow", "moved the webhook secrets of {} stored definitions into the vault (no longer in plain text)",
                  rewritten);
    return rewritten;
}

}  // namespace arclight::workflow
