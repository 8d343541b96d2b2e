// The vault's cryptography and storage: XChaCha20-Poly1305 (libsodium), rows of vault_secrets,
// the key check in vault_meta, rotation in one transaction. Key sources and files: keys.cpp.
#include "core/vault/vault.hpp"

#include "core/db/db.hpp"
#include "core/errors/error.hpp"
#include "core/time/time.hpp"

#include <soci/soci.h>
#include <sodium.h>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <memory>
#include <mutex>

namespace arclight {
namespace {

constexpr std::string_view kCheckPlain = "arclight vault key check v1";
constexpr std::string_view kCheckAd = "arclight-vault-v1\x1fkey-check";

void sodium_ready() {
    static std::once_flag once;
    std::call_once(once, [] {
        if (sodium_init() < 0) throw std::runtime_error("libsodium could not be initialised");
    });
}

// Binds a ciphertext to its owner and name: a row copied under another name does not open.
std::string associated_data(std::string_view owner, std::string_view name) {
    std::string ad = "arclight-vault-v1\x1fsecret\x1f";
    ad.append(owner).push_back('\x1f');
    ad.append(name);
    return ad;
}

std::string to_base64(const unsigned char* data, std::size_t n) {
    std::string out(sodium_base64_ENCODED_LEN(n, sodium_base64_VARIANT_ORIGINAL), '\0');
    sodium_bin2base64(out.data(), out.size(), data, n, sodium_base64_VARIANT_ORIGINAL);
    out.resize(std::strlen(out.c_str()));
    return out;
}

std::optional<std::string> from_base64(std::string_view text) {
    std::string out(text.size(), '\0');
    std::size_t len = 0;
    if (sodium_base642bin(reinterpret_cast<unsigned char*>(out.data()), out.size(), text.data(), text.size(), nullptr, &len,
                          nullptr, sodium_base64_VARIANT_ORIGINAL) != 0)
        return std::nullopt;
    out.resize(len);
    return out;
}

Error no_key_error() {
    return Error(ErrorCode::service_unavailable,
                 "secrets cannot be stored: the vault has no key. Create one with `arclight vault init --key-file PATH`, "
                 "set vault.key_file = PATH (or ARCLIGHT_VAULT_KEY) on every instance and restart");
}

}  // namespace

// The master key in memory libsodium allocates: locked (not swapped), guarded, wiped on free.
struct Vault::Key {
    unsigned char* bytes = nullptr;
    Key() {
        sodium_ready();
        bytes = static_cast<unsigned char*>(sodium_malloc(kKeyBytes));
        if (!bytes) throw std::bad_alloc();
    }
    ~Key() { sodium_free(bytes); }  // zeroes before freeing
    Key(const Key&) = delete;
    Key& operator=(const Key&) = delete;

    static std::unique_ptr<Key> from_text(std::string_view text, const std::string& origin) {
        while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) text.remove_suffix(1);
        while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front()))) text.remove_prefix(1);
        auto k = std::make_unique<Key>();
        std::size_t len = 0;
        unsigned char buf[kKeyBytes + 8];
        bool ok = sodium_base642bin(buf, sizeof buf, text.data(), text.size(), nullptr, &len, nullptr,
                                    sodium_base64_VARIANT_ORIGINAL) == 0 &&
                  len == kKeyBytes;
        if (ok) std::memcpy(k->bytes, buf, kKeyBytes);
        sodium_memzero(buf, sizeof buf);
        if (!ok)
            throw VaultError("the vault key from " + origin +
                             " is not base64 of 32 bytes (create one with `arclight vault init`)");
        return k;
    }
};

Vault::Vault() { sodium_ready(); }
Vault::~Vault() { delete key_; }

void Vault::use_key(std::string_view key_b64, std::string origin) {
    auto k = Key::from_text(key_b64, origin);
    delete key_;
    key_ = k.release();
    origin_ = std::move(origin);
}

const Vault::Key& Vault::key_or_throw() const {
    if (!key_) throw no_key_error();
    return *key_;
}

std::string Vault::seal(std::string_view ad, std::string_view plain, const Key& key) const {
    std::string out(crypto_aead_xchacha20poly1305_ietf_NPUBBYTES + plain.size() + crypto_aead_xchacha20poly1305_ietf_ABYTES,
                    '\0');
    auto* nonce = reinterpret_cast<unsigned char*>(out.data());
    randombytes_buf(nonce, crypto_aead_xchacha20poly1305_ietf_NPUBBYTES);
    unsigned long long clen = 0;
    crypto_aead_xchacha20poly1305_ietf_encrypt(nonce + crypto_aead_xchacha20poly1305_ietf_NPUBBYTES, &clen,
                                               reinterpret_cast<const unsigned char*>(plain.data()), plain.size(),
                                               reinterpret_cast<const unsigned char*>(ad.data()), ad.size(), nullptr, nonce,
                                               key.bytes);
    auto text = to_base64(reinterpret_cast<const unsigned char*>(out.data()), out.size());
    return text;
}

std::optional<std::string> Vault::unseal(std::string_view ad, std::string_view sealed, const Key& key) const {
    auto raw = from_base64(sealed);
    constexpr auto N = crypto_aead_xchacha20poly1305_ietf_NPUBBYTES, A = crypto_aead_xchacha20poly1305_ietf_ABYTES;
    if (!raw || raw->size() < N + A) return std::nullopt;
    const auto* nonce = reinterpret_cast<const unsigned char*>(raw->data());
    std::string plain(raw->size() - N - A, '\0');
    unsigned long long plen = 0;
    if (crypto_aead_xchacha20poly1305_ietf_decrypt(reinterpret_cast<unsigned char*>(plain.data()), &plen, nullptr, nonce + N,
                                                   raw->size() - N, reinterpret_cast<const unsigned char*>(ad.data()),
                                                   ad.size(), nonce, key.bytes) != 0)
        return std::nullopt;
    plain.resize(plen);
    return plain;
}

void Vault::put(soci::session& s, std::string_view owner, std::string_view name, std::string_view value) const {
    if (owner.empty() || name.empty()) throw Error(ErrorCode::bad_request, "a secret needs an owner and a name");
    const auto& key = key_or_throw();
    std::string o(owner), n(name), c = seal(associated_data(owner, name), value, key);
    long long now = now_ms();
    s << "INSERT INTO vault_secrets (owner, name, ciphertext, created_at, updated_at) VALUES (:o, :n, :c, :t, :t2) "
         "ON CONFLICT (owner, name) DO UPDATE SET ciphertext = excluded.ciphertext, updated_at = excluded.updated_at",
        soci::use(o), soci::use(n), soci::use(c), soci::use(now), soci::use(now);
}

std::optional<std::string> Vault::get(soci::session& s, std::string_view owner, std::string_view name) const {
    std::string o(owner), n(name), c;
    soci::indicator ind = soci::i_null;
    s << "SELECT ciphertext FROM vault_secrets WHERE owner = :o AND name = :n", soci::into(c, ind), soci::use(o), soci::use(n);
    if (!s.got_data() || ind == soci::i_null) return std::nullopt;
    const auto& key = key_or_throw();
    auto plain = unseal(associated_data(owner, name), c, key);
    if (!plain)
        throw VaultError("the vault secret " + o + "/" + n +
                         " does not open under the vault key (altered or moved in the database)");
    return plain;
}

bool Vault::remove(soci::session& s, std::string_view owner, std::string_view name) const {
    std::string o(owner), n(name);
    soci::statement st = (s.prepare << "DELETE FROM vault_secrets WHERE owner = :o AND name = :n", soci::use(o), soci::use(n));
    st.execute(true);
    return st.get_affected_rows() > 0;
}

std::size_t Vault::remove_prefix(soci::session& s, std::string_view owner, std::string_view prefix) const {
    std::size_t n = 0;
    for (const auto& name : names(s, owner, prefix)) n += remove(s, owner, name) ? 1 : 0;
    return n;
}

std::vector<std::string> Vault::names(soci::session& s, std::string_view owner, std::string_view prefix) const {
    std::string o(owner);
    std::vector<std::string> out;
    soci::rowset<std::string> rows = (s.prepare << "SELECT name FROM vault_secrets WHERE owner = :o", soci::use(o));
    for (const auto& n : rows)
        if (n.compare(0, prefix.size(), prefix) == 0) out.push_back(n);
    std::sort(out.begin(), out.end());
    return out;
}

std::int64_t Vault::count(soci::session& s) {
    long long n = 0;
    s << "SELECT COUNT(*) FROM vault_secrets", soci::into(n);
    return n;
}

bool Vault::key_opens(soci::session& s) const {
    std::string check;
    soci::indicator ind = soci::i_null;
    s << "SELECT key_check FROM vault_meta WHERE id = 1", soci::into(check, ind);
    if (!s.got_data() || ind == soci::i_null) return true;
    if (!key_) return false;
    auto plain = unseal(kCheckAd, check, *key_);
    return plain && *plain == kCheckPlain;
}

void Vault::write_key_check(soci::session& s, const Key& key, bool replace) const {
    auto check = seal(kCheckAd, kCheckPlain, key);
    long long now = now_ms();
    if (replace)
        s << "INSERT INTO vault_meta (id, key_check, updated_at) VALUES (1, :c, :t) "
             "ON CONFLICT (id) DO UPDATE SET key_check = excluded.key_check, updated_at = excluded.updated_at",
            soci::use(check), soci::use(now);
    else  // two instances starting at once: the first one's check stays
        s << "INSERT INTO vault_meta (id, key_check, updated_at) VALUES (1, :c, :t) ON CONFLICT (id) DO NOTHING",
            soci::use(check), soci::use(now);
}

std::size_t Vault::rotate(Db& db, std::string_view new_key_b64) {
    const auto& old_key = key_or_throw();
    auto fresh = Key::from_text(new_key_b64, "the new key");
    std::size_t n = db.with_session([&](soci::session& s) {
        WriteTransaction tx(s, db.backend() == DbBackend::sqlite);
        if (!key_opens(s)) throw VaultError("the vault key (" + origin_ + ") does not open the stored secrets");
        struct Row {
            std::string owner, name, ciphertext;
        };
        std::vector<Row> rows;
        soci::rowset<soci::row> rs = (s.prepare << "SELECT owner, name, ciphertext FROM vault_secrets");
        for (const auto& r : rs) rows.push_back({r.get<std::string>(0), r.get<std::string>(1), r.get<std::string>(2)});
        long long now = now_ms();
        for (auto& row : rows) {
            auto ad = associated_data(row.owner, row.name);
            auto plain = unseal(ad, row.ciphertext, old_key);
            if (!plain)
                throw VaultError("rotation stopped, nothing changed: the vault secret " + row.owner + "/" + row.name +
                                 " does not open under the current key");
            auto c = seal(ad, *plain, *fresh);
            sodium_memzero(plain->data(), plain->size());
            s << "UPDATE vault_secrets SET ciphertext = :c, updated_at = :t WHERE owner = :o AND name = :n", soci::use(c),
                soci::use(now), soci::use(row.owner), soci::use(row.name);
        }
        write_key_check(s, *fresh, true);
        tx.commit();
        return rows.size();
    });
    delete key_;
    key_ = fresh.release();
    return n;
}

}  // namespace arclight
