// The vault's master key: where it comes from (ARCLIGHT_VAULT_KEY, vault.key_file, the key file
// beside a SQLite database), the checks at start, key files (0600, O_EXCL, atomic replace) and
// the two commands, `arclight vault init` and `arclight vault rotate-key`.
#include "core/vault/vault.hpp"

#include "core/db/db.hpp"
#include "core/log/log.hpp"

#include <soci/soci.h>
#include <sodium.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>

#include <cerrno>
#include <cctype>
#include <cstring>
#include <fstream>
#include <sstream>
#include <tuple>

namespace arclight {
namespace fs = std::filesystem;

namespace {

std::string errno_text() { return std::strerror(errno); }

void fsync_dir(const fs::path& file) {
    auto dir = file.parent_path().empty() ? fs::path(".") : file.parent_path();
    int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY);
    if (fd < 0) return;
    ::fsync(fd);
    ::close(fd);
}

// Writes the whole text to a file descriptor opened by the caller, fsyncs and closes it.
void write_all(int fd, const fs::path& path, std::string_view text) {
    std::size_t done = 0;
    while (done < text.size()) {
        auto n = ::write(fd, text.data() + done, text.size() - done);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            auto why = errno_text();
            ::close(fd);
            throw VaultError("could not write the vault key file " + path.string() + ": " + why);
        }
        done += static_cast<std::size_t>(n);
    }
    if (::fsync(fd) != 0 || ::close(fd) != 0)
        throw VaultError("could not write the vault key file " + path.string() + ": " + errno_text());
}

// The text of a key file, or nullopt when it does not exist. Warns when others may read it.
std::optional<std::string> read_key_file(const fs::path& path) {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) {
        if (errno == ENOENT) return std::nullopt;
        throw VaultError("cannot read the vault key file " + path.string() + ": " + errno_text());
    }
    if (st.st_mode & (S_IRWXG | S_IRWXO))
        log::warn("vault", "the vault key file {} may be read by other users (mode {:o}); chmod 600 it", path.string(),
                  st.st_mode & 0777);
    std::ifstream in(path, std::ios::binary);
    if (!in) throw VaultError("cannot read the vault key file " + path.string());
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

// The 32 key bytes of a key text (to compare two sources), or nullopt when it is not one.
std::optional<std::string> key_bytes(std::string_view text) {
    while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) text.remove_suffix(1);
    while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front()))) text.remove_prefix(1);
    unsigned char buf[Vault::kKeyBytes + 8];
    std::size_t len = 0;
    bool ok = sodium_base642bin(buf, sizeof buf, text.data(), text.size(), nullptr, &len, nullptr,
                                sodium_base64_VARIANT_ORIGINAL) == 0 &&
              len == Vault::kKeyBytes;
    std::optional<std::string> out;
    if (ok) out.emplace(reinterpret_cast<const char*>(buf), Vault::kKeyBytes);
    sodium_memzero(buf, sizeof buf);
    return out;
}

fs::path with_suffix(const fs::path& p, const char* suffix) { return fs::path(p.string() + suffix); }

void rename_or_throw(const fs::path& from, const fs::path& to) {
    if (::rename(from.c_str(), to.c_str()) != 0)
        throw VaultError("could not rename " + from.string() + " to " + to.string() + ": " + errno_text());
}

}  // namespace

fs::path default_key_file(const std::string& database_url) {
    auto url = parse_db_url(database_url);
    if (url.backend != DbBackend::sqlite) return {};
    fs::path db(url.target);
    return (db.parent_path().empty() ? fs::path(".") : db.parent_path()) / "arclight.vault.key";
}

std::string new_vault_key() {
    if (sodium_init() < 0) throw std::runtime_error("libsodium could not be initialised");
    unsigned char k[Vault::kKeyBytes];
    randombytes_buf(k, sizeof k);
    std::string out(sodium_base64_ENCODED_LEN(sizeof k, sodium_base64_VARIANT_ORIGINAL), '\0');
    sodium_bin2base64(out.data(), out.size(), k, sizeof k, sodium_base64_VARIANT_ORIGINAL);
    sodium_memzero(k, sizeof k);
    out.resize(std::strlen(out.c_str()));
    return out;
}

void create_key_file(const fs::path& path, std::string_view key_b64) {
    if (!path.parent_path().empty()) fs::create_directories(path.parent_path());
    // O_EXCL: never overwrite a key; mode 0600 from the start (no chmod after the key is written).
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
        if (errno == EEXIST) throw VaultError("the vault key file " + path.string() + " already exists; it is never overwritten");
        throw VaultError("could not create the vault key file " + path.string() + ": " + errno_text());
    }
    write_all(fd, path, std::string(key_b64) + "\n");
    fsync_dir(path);
}

void replace_key_file(const fs::path& path, std::string_view key_b64) {
    auto tmp = with_suffix(path, ".tmp");
    ::unlink(tmp.c_str());  // left by a crash: never holds the only copy of a key in use
    int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) throw VaultError("could not create " + tmp.string() + ": " + errno_text());
    write_all(fd, tmp, std::string(key_b64) + "\n");
    rename_or_throw(tmp, path);
    fsync_dir(path);
}

void Vault::open(Db& db, const VaultSettings& settings) {
    const bool sqlite = db.backend() == DbBackend::sqlite;
    const bool configured = !settings.key_file.empty();
    fs::path file = configured ? fs::path(settings.key_file) : default_key_file(settings.database_url);
    std::string file_origin = configured ? "vault.key_file " + file.string() : "the key file " + file.string();

    // Sources: the environment wins; a key file with another key beside it is a mistake.
    std::optional<std::string> file_text;
    if (!file.empty()) file_text = read_key_file(file);
    if (configured && !file_text && !fs::exists(with_suffix(file, ".new")))
        throw VaultError("vault.key_file: no such file: " + file.string() + " (create one with `arclight vault init --key-file " +
                         file.string() + "`)");
    if (settings.env_key) {
        use_key(*settings.env_key, "ARCLIGHT_VAULT_KEY");
        if (file_text) {
            auto a = key_bytes(*settings.env_key), b = key_bytes(*file_text);
            if (!b) use_key(*file_text, file_origin);  // throws naming the file
            bool same = a && b && sodium_memcmp(a->data(), b->data(), a->size()) == 0;
            if (a) sodium_memzero(a->data(), a->size());
            if (b) sodium_memzero(b->data(), b->size());
            if (!same)
                throw VaultError("ARCLIGHT_VAULT_KEY and " + file_origin + " hold different keys: give one of them");
            key_path_ = file;
        }
    } else if (file_text) {
        use_key(*file_text, file_origin);
        key_path_ = file;
    }
    // No key file but `<file>.new`: a rotate-key interrupted between its two renames.
    bool from_pending = false;
    if (!key_ && !file.empty() && !file_text) {
        if (auto text = read_key_file(with_suffix(file, ".new"))) {
            use_key(*text, with_suffix(file, ".new").string());
            from_pending = true;
        }
    }

    auto state = db.with_session([&](soci::session& s) {
        std::string check;
        soci::indicator ind = soci::i_null;
        s << "SELECT key_check FROM vault_meta WHERE id = 1", soci::into(check, ind);
        bool has_check = s.got_data() && ind == soci::i_ok;
        return std::make_tuple(count(s), has_check, key_ ? key_opens(s) : false);
    });
    auto [secrets, has_check, opens] = state;

    if (key_ && !opens) {
        // A rotate-key interrupted after its commit: `<file>.new` holds the key of the database.
        auto pending = file.empty() || settings.env_key || from_pending ? fs::path() : with_suffix(file, ".new");
        std::optional<std::string> pending_text;
        if (!pending.empty()) pending_text = read_key_file(pending);
        if (pending_text && key_bytes(*pending_text)) {
            Vault probe;
            probe.use_key(*pending_text, pending.string());
            if (db.with_session([&](soci::session& s) { return probe.key_opens(s); })) {
                log::warn("vault", "{} does not open the vault but {} does (an interrupted `arclight vault rotate-key`): "
                          "finishing it ({} -> {}.old, {} -> {})", file.string(), pending.string(), file.string(),
                          file.string(), pending.string(), file.string());
                if (fs::exists(file)) rename_or_throw(file, with_suffix(file, ".old"));
                rename_or_throw(pending, file);
                fsync_dir(file);
                use_key(*pending_text, file_origin);
                return;
            }
        }
        throw VaultError(fmt::format("the vault key ({}) does not open the stored secrets ({} stored); give the key "
                                     "this database was used with",
                                     origin_, secrets));
    }
    if (key_ && from_pending) {
        log::warn("vault", "{0} is missing but {0}.new opens the vault (an interrupted `arclight vault rotate-key`): "
                  "renamed to {0}", file.string());
        rename_or_throw(with_suffix(file, ".new"), file);
        fsync_dir(file);
        origin_ = file_origin;
        key_path_ = file;
    }
    if (key_) {
        if (!has_check) {
            db.with_session([&](soci::session& s) { write_key_check(s, *key_, false); });
            if (!db.with_session([&](soci::session& s) { return key_opens(s); }))
                throw VaultError("the vault key (" + origin_ + ") does not open the vault another instance set up a moment ago");
        }
        log::info("vault", "vault key from {} ({} secrets stored)", origin_, secrets);
        return;
    }
    if (secrets > 0)
        throw VaultError(fmt::format("{} secrets are stored; give vault.key_file or ARCLIGHT_VAULT_KEY (the key they "
                                     "were stored with)",
                                     secrets));
    if (!sqlite) {
        log::warn("vault", "no vault key (vault.key_file or ARCLIGHT_VAULT_KEY): secrets (webhook secrets, ...) cannot be "
                  "stored until one is given. Create it with `arclight vault init --key-file PATH`, set vault.key_file "
                  "on every instance and restart");
        return;
    }
    // A fresh SQLite set-up: a key file beside the database, so `scripts/run.sh` needs no step.
    auto key = new_vault_key();
    try {
        create_key_file(file, key);
        log::info("vault", "no vault key was given and no secret is stored: created the key file {} (mode 0600). "
                  "Back it up with the database: the secrets do not open without it", file.string());
    } catch (const VaultError&) {
        auto text = read_key_file(file);  // another process created it a moment ago
        if (!text) throw;
        key = *text;
    }
    use_key(key, "the key file " + file.string());
    sodium_memzero(key.data(), key.size());
    key_path_ = file;
    if (has_check) log::warn("vault", "the vault's previous key check is replaced: no secret was stored under it");
    db.with_session([&](soci::session& s) { write_key_check(s, *key_, true); });
}

fs::path vault_init(const VaultSettings& settings, const std::string& path) {
    fs::path target = !path.empty() ? fs::path(path)
                      : !settings.key_file.empty() ? fs::path(settings.key_file)
                                                   : default_key_file(settings.database_url);
    if (target.empty())
        throw VaultError("on PostgreSQL the key file has no default place: give --key-file PATH (then set vault.key_file = "
                         "PATH on every instance)");
    auto key = new_vault_key();
    create_key_file(target, key);
    sodium_memzero(key.data(), key.size());
    return target;
}

RotationResult rotate_vault_key(Db& db, Vault& vault, const VaultSettings& settings, const std::string& path) {
    if (!vault.has_key())
        throw VaultError("no vault key is configured (vault.key_file or ARCLIGHT_VAULT_KEY): there is nothing to rotate");
    fs::path target = !path.empty()                   ? fs::path(path)
                      : !vault.key_path().empty()     ? vault.key_path()
                      : !settings.key_file.empty()    ? fs::path(settings.key_file)
                                                      : default_key_file(settings.database_url);
    if (target.empty()) throw VaultError("the key came from ARCLIGHT_VAULT_KEY: give --key-file PATH for the new key");
    // 1. The new key is durable before any secret is sealed with it.
    auto pending = with_suffix(target, ".new");
    auto key = new_vault_key();
    replace_key_file(pending, key);
    // 2. One transaction: every secret and the key check, or nothing.
    RotationResult r;
    try {
        r.secrets = vault.rotate(db, key);
    } catch (...) {
        ::unlink(pending.c_str());
        throw;
    }
    sodium_memzero(key.data(), key.size());
    // 3. The files follow. A crash before this point is finished by the next start (Vault::open).
    if (fs::exists(target)) {
        r.old_file = with_suffix(target, ".old");
        rename_or_throw(target, r.old_file);
    }
    rename_or_throw(pending, target);
    fsync_dir(target);
    r.key_file = target;
    return r;
}

}  // namespace arclight
