// Issue 19, item 11: the vault. Secrets sealed with XChaCha20-Poly1305 under the master key,
// bound to their owner and name; the key's sources and the start-up checks; key files (0600,
// never overwritten); rotation in one transaction, and its crash recovery. Both databases.
#include <doctest/doctest.h>

#include "core/db/migrator.hpp"
#include "core/errors/error.hpp"
#include "core/log/log.hpp"
#include "core/util/embedded.hpp"
#include "core/util/ids.hpp"
#include "core/vault/vault.hpp"
#include "tests/support/test_env.hpp"

#include <soci/soci.h>
#include <sys/stat.h>

#include <fstream>
#include <mutex>

using namespace arclight;
using namespace arclight::test;
namespace fs = std::filesystem;

namespace {

// A fresh database with core's tables, a directory for key files, and the settings pointing there.
struct VaultRig {
    TestDatabase tdb;
    std::unique_ptr<Db> db = tdb.open(2);
    fs::path dir = fs::temp_directory_path() / ("arclight-vault-" + new_uuid());
    VaultRig() {
        fs::create_directories(dir);
        apply_migrations(*db, collect_migrations(arclight::embedded_schema()), {"system"});
    }
    ~VaultRig() {
        std::error_code ec;
        fs::remove_all(dir, ec);
    }
    VaultSettings with_file(const fs::path& f) const { return {f.string(), std::nullopt, tdb.url()}; }
    VaultSettings none() const { return {"", std::nullopt, tdb.url()}; }
    fs::path key_file(const std::string& name) const {
        auto p = dir / name;
        create_key_file(p, new_vault_key());
        return p;
    }
    template <class F>
    auto with(F f) {
        return db->with_session(f);
    }
};

std::string read(const fs::path& p) {
    std::ifstream in(p);
    std::string s;
    std::getline(in, s);
    return s;
}

unsigned mode_of(const fs::path& p) {
    struct stat st {};
    ::stat(p.c_str(), &st);
    return st.st_mode & 0777;
}

std::string refusal(const std::function<void()>& f) {
    try {
        f();
    } catch (const VaultError& e) {
        return e.what();
    }
    return "(no refusal)";
}

}  // namespace

TEST_CASE("vault: secrets round-trip, are listed by name only, and are removed") {
    VaultRig r;
    Vault v;
    v.use_key(new_vault_key(), "test");
    r.with([&](soci::session& s) {
        v.put(s, "workflow", "wf1/webhook/POST/a", "PLANTED-one");
        v.put(s, "workflow", "wf1/webhook/POST/b", "");
        v.put(s, "workflow", "wf2/webhook/POST/a", "PLANTED-two");
        v.put(s, "models", "openai", "sk-PLANTED");
        v.put(s, "workflow", "wf1/webhook/POST/a", "PLANTED-one-changed");  // replaces
        CHECK(v.get(s, "workflow", "wf1/webhook/POST/a") == "PLANTED-one-changed");
        CHECK(v.get(s, "workflow", "wf1/webhook/POST/b") == "");
        CHECK(v.get(s, "models", "openai") == "sk-PLANTED");
        CHECK_FALSE(v.get(s, "models", "nothing").has_value());
        CHECK(v.names(s, "workflow", "wf1/") == std::vector<std::string>{"wf1/webhook/POST/a", "wf1/webhook/POST/b"});
        CHECK(Vault::count(s) == 4);
        // What the table holds is no secret: base64 of nonce || ciphertext, different per write.
        soci::rowset<std::string> rows = (s.prepare << "SELECT ciphertext FROM vault_secrets");
        for (const auto& c : rows) CHECK(c.find("PLANTED") == std::string::npos);
        CHECK(v.remove_prefix(s, "workflow", "wf1/") == 2);
        CHECK(v.remove(s, "models", "openai"));
        CHECK_FALSE(v.remove(s, "models", "openai"));
        CHECK(v.names(s, "workflow") == std::vector<std::string>{"wf2/webhook/POST/a"});
    });
}

TEST_CASE("vault: an altered ciphertext, or one moved under another name, does not open") {
    VaultRig r;
    Vault v;
    v.use_key(new_vault_key(), "test");
    r.with([&](soci::session& s) {
        v.put(s, "workflow", "a", "PLANTED-a");
        v.put(s, "workflow", "b", "PLANTED-b");
        std::string c;
        s << "SELECT ciphertext FROM vault_secrets WHERE name = 'a'", soci::into(c);
        // Tamper: one character of the sealed part changed.
        std::string bad = c;
        bad[bad.size() - 6] = bad[bad.size() - 6] == 'A' ? 'B' : 'A';
        s << "UPDATE vault_secrets SET ciphertext = :c WHERE name = 'a'", soci::use(bad);
        CHECK_THROWS_AS(v.get(s, "workflow", "a"), VaultError);
        // Associated data: a's (valid) ciphertext copied under b, or under another owner.
        s << "UPDATE vault_secrets SET ciphertext = :c WHERE name = 'b'", soci::use(c);
        CHECK_THROWS_AS(v.get(s, "workflow", "b"), VaultError);
        s << "INSERT INTO vault_secrets (owner, name, ciphertext, created_at, updated_at) VALUES ('models', 'a', :c, 0, 0)",
            soci::use(c);
        CHECK_THROWS_AS(v.get(s, "models", "a"), VaultError);
        // Another key does not open it either.
        s << "UPDATE vault_secrets SET ciphertext = :c WHERE owner = 'workflow' AND name = 'a'", soci::use(c);
        CHECK(v.get(s, "workflow", "a") == "PLANTED-a");
        Vault other;
        other.use_key(new_vault_key(), "other");
        CHECK_THROWS_AS(other.get(s, "workflow", "a"), VaultError);
    });
}

TEST_CASE("vault: key text that is not base64 of 32 bytes is refused naming its source") {
    Vault v;
    CHECK(refusal([&] { v.use_key("not base64!", "ARCLIGHT_VAULT_KEY"); }).find("ARCLIGHT_VAULT_KEY is not base64 of 32 bytes") !=
          std::string::npos);
    CHECK(refusal([&] { v.use_key("c2hvcnQ=", "vault.key_file /x"); }).find("vault.key_file /x") != std::string::npos);
    CHECK_FALSE(v.has_key());
    CHECK_NOTHROW(v.use_key("  " + new_vault_key() + "\n", "padded"));  // a file's newline is fine
    CHECK(new_vault_key().size() == 44);

    VaultRig r;
    auto f = r.dir / "bad.key";
    { std::ofstream(f) << "definitely not a key\n"; }
    Vault fromfile;
    CHECK(refusal([&] { fromfile.open(*r.db, r.with_file(f)); }).find("vault.key_file " + f.string()) != std::string::npos);
    Vault fromenv;
    auto s = r.none();
    s.env_key = "AAAA";
    CHECK(refusal([&] { fromenv.open(*r.db, s); }).find("ARCLIGHT_VAULT_KEY") != std::string::npos);
    Vault missing;
    CHECK(refusal([&] { missing.open(*r.db, r.with_file(r.dir / "nope.key")); }).find("no such file") != std::string::npos);
}

TEST_CASE("vault: key files are created with mode 0600 and never overwritten; vault init") {
    VaultRig r;
    auto p = r.dir / "sub" / "k.key";
    auto path = vault_init(r.none(), p.string());
    CHECK(path == p);
    CHECK(mode_of(p) == 0600);
    CHECK(read(p).size() == 44);
    auto before = read(p);
    CHECK(refusal([&] { vault_init(r.none(), p.string()); }).find("already exists") != std::string::npos);
    CHECK(read(p) == before);
    CHECK(vault_init(r.with_file(r.dir / "cfg.key"), "") == r.dir / "cfg.key");  // vault.key_file
    if (use_postgres()) {
        CHECK(refusal([&] { vault_init(r.none(), ""); }).find("--key-file") != std::string::npos);
    } else {
        CHECK(vault_init(r.none(), "") == default_key_file(r.tdb.url()));
    }
}

TEST_CASE("vault: start-up without a key: a key file beside a SQLite database, none on PostgreSQL") {
    VaultRig r;
    std::mutex mu;
    std::string logged;
    log::set_observer([&](std::string_view line) {
        std::lock_guard lk(mu);
        logged.append(line).push_back('\n');
    });
    log::set_level(log::Level::info);
    Vault v;
    v.open(*r.db, r.none());
    log::set_observer({});
    log::set_level(log::Level::warn);
    if (use_postgres()) {
        CHECK_FALSE(v.has_key());
        CHECK(logged.find("arclight vault init") != std::string::npos);
        // Writing a secret: 503 telling the operator what to do (problem+json through the routes).
        try {
            r.with([&](soci::session& s) { v.put(s, "workflow", "x", "PLANTED"); });
            FAIL("no error");
        } catch (const Error& e) {
            CHECK(e.code() == ErrorCode::service_unavailable);
            CHECK(e.detail().find("arclight vault init") != std::string::npos);
            CHECK(e.detail().find("vault.key_file") != std::string::npos);
        }
        return;
    }
    auto file = default_key_file(r.tdb.url());
    REQUIRE(v.has_key());
    CHECK(v.key_path() == file);
    CHECK(fs::exists(file));
    CHECK(mode_of(file) == 0600);
    CHECK(logged.find("created the key file " + file.string()) != std::string::npos);
    r.with([&](soci::session& s) { v.put(s, "workflow", "x", "PLANTED-x"); });
    // Next start: the same file is used.
    Vault again;
    again.open(*r.db, r.none());
    r.with([&](soci::session& s) { CHECK(again.get(s, "workflow", "x") == "PLANTED-x"); });
    // The file gone while a secret is stored: refused, and no new key is made up.
    fs::remove(file);
    Vault lost;
    CHECK(refusal([&] { lost.open(*r.db, r.none()); }).find("1 secrets are stored; give vault.key_file or ARCLIGHT_VAULT_KEY") !=
          std::string::npos);
    CHECK_FALSE(fs::exists(file));
}

TEST_CASE("vault: secrets stored and no key, or a wrong key: start refused") {
    VaultRig r;
    auto good = r.key_file("good.key"), wrong = r.key_file("wrong.key");
    Vault v;
    v.open(*r.db, r.with_file(good));
    REQUIRE(v.has_key());
    // A wrong key is refused even before any secret is stored (the key check).
    Vault w0;
    CHECK(refusal([&] { w0.open(*r.db, r.with_file(wrong)); }).find("does not open the stored secrets") != std::string::npos);
    r.with([&](soci::session& s) {
        v.put(s, "workflow", "a", "PLANTED-a");
        v.put(s, "workflow", "b", "PLANTED-b");
    });
    Vault w;
    CHECK(refusal([&] { w.open(*r.db, r.with_file(wrong)); }).find("the vault key (vault.key_file " + wrong.string() +
                                                                     ") does not open the stored secrets (2 stored)") !=
          std::string::npos);
    Vault none;  // (on SQLite no key file is beside the database)
    CHECK(refusal([&] { none.open(*r.db, r.none()); }).find("2 secrets are stored") != std::string::npos);
    // The environment: the key itself; with a key file too, both must agree.
    auto s = r.none();
    s.env_key = read(good);
    Vault env;
    env.open(*r.db, s);
    CHECK(env.key_origin() == "ARCLIGHT_VAULT_KEY");
    r.with([&](soci::session& ss) { CHECK(env.get(ss, "workflow", "b") == "PLANTED-b"); });
    auto both = r.with_file(good);
    both.env_key = read(good);
    Vault same;
    CHECK_NOTHROW(same.open(*r.db, both));
    both = r.with_file(wrong);
    both.env_key = read(good);
    Vault differ;
    CHECK(refusal([&] { differ.open(*r.db, both); }).find("hold different keys") != std::string::npos);
    s.env_key = read(wrong);
    Vault env_wrong;
    CHECK(refusal([&] { env_wrong.open(*r.db, s); }).find("ARCLIGHT_VAULT_KEY") != std::string::npos);
}

TEST_CASE("vault: rotate-key re-encrypts every secret under a new key; the old key no longer opens") {
    VaultRig r;
    auto file = r.key_file("vault.key");
    auto old_key = read(file);
    Vault v;
    v.open(*r.db, r.with_file(file));
    r.with([&](soci::session& s) {
        for (int i = 0; i < 20; ++i) v.put(s, i % 2 ? "workflow" : "models", "n" + std::to_string(i), "PLANTED-" + std::to_string(i));
    });
    auto res = rotate_vault_key(*r.db, v, r.with_file(file), "");
    CHECK(res.secrets == 20);
    CHECK(res.key_file == file);
    CHECK(res.old_file == fs::path(file.string() + ".old"));
    CHECK(read(res.old_file) == old_key);
    CHECK(read(file) != old_key);
    CHECK(mode_of(file) == 0600);
    CHECK_FALSE(fs::exists(file.string() + ".new"));
    // Every secret opens under the new key (this vault and a fresh start); the old key is refused.
    Vault fresh;
    fresh.open(*r.db, r.with_file(file));
    r.with([&](soci::session& s) {
        for (int i = 0; i < 20; ++i) {
            CHECK(v.get(s, i % 2 ? "workflow" : "models", "n" + std::to_string(i)) == "PLANTED-" + std::to_string(i));
            CHECK(fresh.get(s, i % 2 ? "workflow" : "models", "n" + std::to_string(i)) == "PLANTED-" + std::to_string(i));
        }
        Vault old;
        old.use_key(old_key, "old");
        CHECK_FALSE(old.key_opens(s));
        CHECK_THROWS_AS(old.get(s, "models", "n0"), VaultError);
    });
    Vault old_start;
    CHECK(refusal([&] { old_start.open(*r.db, r.with_file(res.old_file)); }).find("does not open") != std::string::npos);
}

TEST_CASE("vault: a rotation that fails midway changes nothing") {
    VaultRig r;
    auto file = r.key_file("vault.key");
    auto old_key = read(file);
    Vault v;
    v.open(*r.db, r.with_file(file));
    r.with([&](soci::session& s) {
        for (const char* n : {"a", "b", "c", "d"}) v.put(s, "workflow", n, std::string("PLANTED-") + n);
        // "c" was altered in the database: the rotation reaches it after re-encrypting a and b.
        s << "UPDATE vault_secrets SET ciphertext = (SELECT ciphertext FROM vault_secrets WHERE name = 'a') WHERE name = 'c'";
    });
    auto msg = refusal([&] { rotate_vault_key(*r.db, v, r.with_file(file), ""); });
    CHECK(msg.find("nothing changed") != std::string::npos);
    CHECK(msg.find("workflow/c") != std::string::npos);
    CHECK(read(file) == old_key);
    CHECK_FALSE(fs::exists(file.string() + ".new"));
    Vault again;
    again.open(*r.db, r.with_file(file));  // the old key still opens the key check
    r.with([&](soci::session& s) {
        for (const char* n : {"a", "b", "d"}) CHECK(again.get(s, "workflow", n) == std::string("PLANTED-") + n);
    });
}

TEST_CASE("vault: a rotation interrupted after its commit is finished by the next start") {
    VaultRig r;
    auto file = r.key_file("vault.key");
    auto old_key = read(file);
    Vault v;
    v.open(*r.db, r.with_file(file));
    r.with([&](soci::session& s) { v.put(s, "workflow", "a", "PLANTED-a"); });
    // What rotate-key does up to its commit: the new key durable in <file>.new, then the transaction.
    auto new_key = new_vault_key();
    replace_key_file(file.string() + ".new", new_key);
    CHECK(mode_of(file.string() + ".new") == 0600);
    v.rotate(*r.db, new_key);
    // Crash here: <file> still holds the old key.
    Vault next;
    next.open(*r.db, r.with_file(file));
    CHECK(read(file) == new_key);
    CHECK(read(file.string() + ".old") == old_key);
    CHECK_FALSE(fs::exists(file.string() + ".new"));
    r.with([&](soci::session& s) { CHECK(next.get(s, "workflow", "a") == "PLANTED-a"); });

    // Interrupted between the two renames: <file> is gone, <file>.new holds the key.
    auto newer = new_vault_key();
    replace_key_file(file.string() + ".new", newer);
    next.rotate(*r.db, newer);
    fs::rename(file, file.string() + ".old");
    Vault after;
    after.open(*r.db, r.with_file(file));
    CHECK(read(file) == newer);
    r.with([&](soci::session& s) { CHECK(after.get(s, "workflow", "a") == "PLANTED-a"); });
}
