#pragma once
// The vault: secrets at rest (issue 19, item 11). Every secret the server keeps (webhook secrets
// today; model provider keys, hub connection secrets, `{{ secrets.name }}` next) is stored
// encrypted with libsodium's XChaCha20-Poly1305 (IETF AEAD) under one master key: 32 random bytes,
// base64, from ARCLIGHT_VAULT_KEY or the file vault.key_file. The key lives only in memory
// (sodium_malloc: locked, guarded, wiped when freed). The associated data of each ciphertext is its
// (owner, name), so a row copied under another name does not open. A key check (a constant sealed
// under the key, table vault_meta) makes a wrong key fail at start even with no secret stored.
//
// Modules get it through ModuleContext::vault and call it inside their own soci session, so a
// secret is written in the same transaction as the row that refers to it. Values are never
// logged and never listed: names only. docs/auth.md, "Secrets at rest: the vault".

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace soci {
class session;
}

namespace arclight {

class Db;

/// A start-up refusal or a key that cannot be used (bad text, wrong key, missing file): the
/// message names the source and what to do.
class VaultError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

/// Where the master key may come from.
struct VaultSettings {
    std::string key_file;                ///< vault.key_file ("" = not set)
    std::optional<std::string> env_key;  ///< ARCLIGHT_VAULT_KEY (unset = nullopt)
    std::string database_url;            ///< database.url: a SQLite database keeps its key file beside it
};

/// The key file a SQLite database uses when vault.key_file is not set: arclight.vault.key in the
/// database file's directory. Empty for PostgreSQL (instances must share one key: no default).
std::filesystem::path default_key_file(const std::string& database_url);

/// A new master key: base64 (standard alphabet, padded) of 32 random bytes.
std::string new_vault_key();

/// Writes `key_b64` and a newline to a new file created with mode 0600 (O_EXCL: an existing file
/// is never overwritten: VaultError) and fsyncs it and its directory.
void create_key_file(const std::filesystem::path& path, std::string_view key_b64);

/// Replaces (or creates) `path` atomically: a temporary file 0600 beside it, fsync, rename, fsync
/// of the directory.
void replace_key_file(const std::filesystem::path& path, std::string_view key_b64);

class Vault {
public:
    static constexpr std::size_t kKeyBytes = 32;

    Vault();
    ~Vault();
    Vault(const Vault&) = delete;
    Vault& operator=(const Vault&) = delete;

    /// Start-up, after migrations (blocking). Resolves the key: ARCLIGHT_VAULT_KEY, else
    /// vault.key_file, else (SQLite) the default key file when it exists. The two given and
    /// different: refused. Then checks it against the database: secrets stored and no key, or a
    /// key that does not open the key check: refused (VaultError). No key, no secret, SQLite: a
    /// new key file is created beside the database (0600) and logged. No key on PostgreSQL: the
    /// vault stays closed (writes answer 503) and the log says how to give one. A key file whose
    /// key does not open the vault while `<file>.new` does (a rotate-key interrupted after its
    /// commit) finishes that rotation: `<file>` -> `<file>.old`, `<file>.new` -> `<file>`.
    void open(Db& db, const VaultSettings& settings);

    bool has_key() const noexcept { return key_ != nullptr; }
    /// Where the key came from ("ARCLIGHT_VAULT_KEY", "vault.key_file /path", ...); empty without one.
    const std::string& key_origin() const noexcept { return origin_; }
    /// The key file in use, when the key came from a file.
    const std::filesystem::path& key_path() const noexcept { return key_path_; }

    /// Stores (inserts or replaces) a secret. Throws Error(service_unavailable) when the vault has
    /// no key, Error(bad_request) for an empty owner or name.
    void put(soci::session& s, std::string_view owner, std::string_view name, std::string_view value) const;
    /// The secret, or nullopt when absent. Throws VaultError when it does not open (tampered row,
    /// or moved under another name) and Error(service_unavailable) without a key.
    std::optional<std::string> get(soci::session& s, std::string_view owner, std::string_view name) const;
    /// Deletes one secret; true when it existed.
    bool remove(soci::session& s, std::string_view owner, std::string_view name) const;
    /// Deletes every secret of `owner` whose name starts with `prefix`; how many.
    std::size_t remove_prefix(soci::session& s, std::string_view owner, std::string_view prefix) const;
    /// The names (never the values) of `owner`'s secrets starting with `prefix`, sorted.
    std::vector<std::string> names(soci::session& s, std::string_view owner, std::string_view prefix = {}) const;
    /// Secrets stored, all owners.
    static std::int64_t count(soci::session& s);

    /// Uses `key_b64` (tests, the command line); VaultError naming `origin` when it is not base64
    /// of 32 bytes. Does not check it against a database.
    void use_key(std::string_view key_b64, std::string origin);
    /// True when the current key opens the database's key check (or there is none yet).
    bool key_opens(soci::session& s) const;

    /// Re-encrypts every secret and the key check under `new_key_b64` in one transaction
    /// (blocking). Any secret that does not open under the current key aborts it: nothing
    /// changes. After the commit this vault holds the new key. Returns the number of secrets.
    std::size_t rotate(Db& db, std::string_view new_key_b64);

private:
    struct Key;
    std::string seal(std::string_view ad, std::string_view plain, const Key& key) const;
    std::optional<std::string> unseal(std::string_view ad, std::string_view sealed, const Key& key) const;
    const Key& key_or_throw() const;
    void write_key_check(soci::session& s, const Key& key, bool replace) const;

    Key* key_ = nullptr;
    std::string origin_;
    std::filesystem::path key_path_;
};

/// `arclight vault init`: writes a new key to `path` (or vault.key_file, or the SQLite default)
/// with mode 0600, refusing to overwrite. Returns the file written.
std::filesystem::path vault_init(const VaultSettings& settings, const std::string& path);

struct RotationResult {
    std::size_t secrets = 0;
    std::filesystem::path key_file;  ///< holds the new key
    std::filesystem::path old_file;  ///< the previous key, kept (empty when the key came from the env only)
};

/// `arclight vault rotate-key`, with `vault` opened: a new key written to `<target>.new` (0600,
/// fsync), every secret re-encrypted in one transaction, then `<target>` -> `<target>.old` and
/// `<target>.new` -> `<target>`. `target` is `path`, else the key file in use, else
/// vault.key_file, else the SQLite default. A crash between the commit and the renames is
/// finished by the next start (Vault::open).
RotationResult rotate_vault_key(Db& db, Vault& vault, const VaultSettings& settings, const std::string& path);

}  // namespace arclight
