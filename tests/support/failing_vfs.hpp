#pragma once
// Test-only: a SQLite VFS wrapped around the default one that makes writes fail on demand, as a
// full disk (SQLITE_FULL) or a failing device (SQLITE_IOERR_WRITE) would, without needing a small
// file system (mounts are not available everywhere the suite runs).
//
//   test::FailingVfs vfs;            // registered as the default VFS: connections opened from now on use it
//   vfs.fail(SQLITE_FULL);           // every write to a database or WAL file fails
//   vfs.heal();                      // writes work again
//
// Connections opened while it is registered keep using it (it passes everything through unless
// failing), so the object is static and outlives them; the destructor only stops it from being
// the default for connections opened later.
#include <soci/sqlite3/soci-sqlite3.h>  // sqlite3.h, inside namespace sqlite_api

#include <atomic>
#include <cstring>

namespace arclight::test {

class FailingVfs {
public:
    FailingVfs() {
        namespace sq = sqlite_api;
        auto& st = state();
        if (!st.real) {
            st.real = sq::sqlite3_vfs_find(nullptr);
            st.vfs = *st.real;
            st.vfs.pNext = nullptr;
            st.vfs.zName = "arclight-test-failing";
            st.vfs.szOsFile = static_cast<int>(sizeof(File)) + st.real->szOsFile;
            st.vfs.xOpen = &open;
            st.io = io_methods();
        }
        st.code = 0;
        sq::sqlite3_vfs_register(&st.vfs, 1);
    }
    ~FailingVfs() {
        auto& st = state();
        st.code = 0;
        sqlite_api::sqlite3_vfs_register(st.real, 1);
    }
    FailingVfs(const FailingVfs&) = delete;
    FailingVfs& operator=(const FailingVfs&) = delete;

    /// Every write to a database or WAL file fails with `code` from now on.
    void fail(int code) { state().code = code; }
    void heal() { state().code = 0; }
    /// Writes refused so far.
    long refused() const { return state().refused; }

private:
    struct File {
        sqlite_api::sqlite3_file base;
        sqlite_api::sqlite3_file* real;
        bool guarded;  // a main database or WAL file
    };
    struct State {
        sqlite_api::sqlite3_vfs* real = nullptr;
        sqlite_api::sqlite3_vfs vfs{};
        sqlite_api::sqlite3_io_methods io{};
        std::atomic<int> code{0};
        std::atomic<long> refused{0};
    };
    static State& state() {
        static State s;
        return s;
    }
    static sqlite_api::sqlite3_file* real(sqlite_api::sqlite3_file* f) { return reinterpret_cast<File*>(f)->real; }

    static int open(sqlite_api::sqlite3_vfs*, const char* name, sqlite_api::sqlite3_file* file, int flags, int* out_flags) {
        auto& st = state();
        auto* f = reinterpret_cast<File*>(file);
        f->real = reinterpret_cast<sqlite_api::sqlite3_file*>(f + 1);
        f->guarded = (flags & (SQLITE_OPEN_MAIN_DB | SQLITE_OPEN_WAL)) != 0;
        f->base.pMethods = nullptr;
        int rc = st.real->xOpen(st.real, name, f->real, flags, out_flags);
        if (f->real->pMethods) f->base.pMethods = &st.io;
        return rc;
    }

    static sqlite_api::sqlite3_io_methods io_methods() {
        namespace sq = sqlite_api;
        sq::sqlite3_io_methods m{};
        m.iVersion = 3;
        m.xClose = [](sq::sqlite3_file* f) { return real(f)->pMethods->xClose(real(f)); };
        m.xRead = [](sq::sqlite3_file* f, void* p, int n, sq::sqlite3_int64 off) { return real(f)->pMethods->xRead(real(f), p, n, off); };
        m.xWrite = [](sq::sqlite3_file* f, const void* p, int n, sq::sqlite3_int64 off) {
            int code = state().code.load();
            if (code != 0 && reinterpret_cast<File*>(f)->guarded) {
                ++state().refused;
                return code;
            }
            return real(f)->pMethods->xWrite(real(f), p, n, off);
        };
        m.xTruncate = [](sq::sqlite3_file* f, sq::sqlite3_int64 size) { return real(f)->pMethods->xTruncate(real(f), size); };
        m.xSync = [](sq::sqlite3_file* f, int flags) { return real(f)->pMethods->xSync(real(f), flags); };
        m.xFileSize = [](sq::sqlite3_file* f, sq::sqlite3_int64* size) { return real(f)->pMethods->xFileSize(real(f), size); };
        m.xLock = [](sq::sqlite3_file* f, int l) { return real(f)->pMethods->xLock(real(f), l); };
        m.xUnlock = [](sq::sqlite3_file* f, int l) { return real(f)->pMethods->xUnlock(real(f), l); };
        m.xCheckReservedLock = [](sq::sqlite3_file* f, int* out) { return real(f)->pMethods->xCheckReservedLock(real(f), out); };
        m.xFileControl = [](sq::sqlite3_file* f, int op, void* arg) { return real(f)->pMethods->xFileControl(real(f), op, arg); };
        m.xSectorSize = [](sq::sqlite3_file* f) { return real(f)->pMethods->xSectorSize(real(f)); };
        m.xDeviceCharacteristics = [](sq::sqlite3_file* f) { return real(f)->pMethods->xDeviceCharacteristics(real(f)); };
        m.xShmMap = [](sq::sqlite3_file* f, int pg, int sz, int extend, void volatile** p) {
            return real(f)->pMethods->xShmMap(real(f), pg, sz, extend, p);
        };
        m.xShmLock = [](sq::sqlite3_file* f, int offset, int n, int flags) { return real(f)->pMethods->xShmLock(real(f), offset, n, flags); };
        m.xShmBarrier = [](sq::sqlite3_file* f) { real(f)->pMethods->xShmBarrier(real(f)); };
        m.xShmUnmap = [](sq::sqlite3_file* f, int del) { return real(f)->pMethods->xShmUnmap(real(f), del); };
        m.xFetch = [](sq::sqlite3_file* f, sq::sqlite3_int64 off, int n, void** p) { return real(f)->pMethods->xFetch(real(f), off, n, p); };
        m.xUnfetch = [](sq::sqlite3_file* f, sq::sqlite3_int64 off, void* p) { return real(f)->pMethods->xUnfetch(real(f), off, p); };
        return m;
    }
};

}  // namespace arclight::test
