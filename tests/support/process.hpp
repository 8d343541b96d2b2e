#pragma once
// The server binary as a child process (crash recovery with SIGKILL, several instances on one
// database). Configured through ARCLIGHT_* environment variables.
#include <map>
#include <string>
#include <sys/types.h>

namespace arclight::test {

class ServerProcess {
public:
    /// Starts `arclight serve` on a free loopback port with `env` (e.g. {"ARCLIGHT_DATABASE_URL", url})
    /// and waits until /readyz answers 200 (throws after 20 s).
    explicit ServerProcess(std::map<std::string, std::string> env);
    ~ServerProcess();
    unsigned short port() const { return port_; }
    pid_t pid() const { return pid_; }
    /// SIGKILL, then reap.
    void kill9();
    /// SIGTERM and wait; returns the exit status (or -1).
    int terminate();

private:
    pid_t pid_ = -1;
    unsigned short port_ = 0;
};

/// A TCP port that was free a moment ago.
unsigned short free_port();

}  // namespace arclight::test
