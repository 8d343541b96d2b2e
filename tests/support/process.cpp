#include "tests/support/process.hpp"

#include "test_paths.hpp"
#include "tests/support/client.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <stdexcept>
#include <thread>
#include <vector>

namespace arclight::test {

unsigned short free_port() {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
    socklen_t len = sizeof a;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
    ::close(fd);
    return ntohs(a.sin_port);
}

ServerProcess::ServerProcess(std::map<std::string, std::string> env) {
    port_ = free_port();
    env["ARCLIGHT_SERVER_PORT"] = std::to_string(port_);
    env.emplace("ARCLIGHT_SERVER_HOST", "127.0.0.1");
    env.emplace("ARCLIGHT_LOG_LEVEL", "warn");
    env.emplace("ARCLIGHT_SERVER_ACCESS_LOG", "false");
    std::vector<std::string> strings;
    for (char** e = environ; *e; ++e) {
        std::string s(*e);
        if (s.rfind("ARCLIGHT_", 0) == 0) continue;  // only what the test says
        strings.push_back(s);
    }
    for (const auto& [k, v] : env) strings.push_back(k + "=" + v);
    std::vector<char*> envp;
    for (auto& s : strings) envp.push_back(s.data());
    envp.push_back(nullptr);
    std::string bin = ARCLIGHT_BINARY;
    std::string serve = "serve";
    char* argv[] = {bin.data(), serve.data(), nullptr};
    pid_ = ::fork();
    if (pid_ < 0) throw std::runtime_error("fork failed");
    if (pid_ == 0) {
        ::execve(bin.c_str(), argv, envp.data());
        _exit(127);
    }
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (std::chrono::steady_clock::now() < deadline) {
        int st = 0;
        if (::waitpid(pid_, &st, WNOHANG) == pid_) {
            pid_ = -1;
            throw std::runtime_error("arclight exited during start-up");
        }
        try {
            if (http(port_, "GET", "/readyz").status == 200) return;
        } catch (...) {
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    kill9();
    throw std::runtime_error("arclight did not become ready within 20 s");
}

ServerProcess::~ServerProcess() {
    if (pid_ > 0) terminate();
}

void ServerProcess::kill9() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGKILL);
    int st = 0;
    ::waitpid(pid_, &st, 0);
    pid_ = -1;
}

int ServerProcess::terminate() {
    if (pid_ <= 0) return -1;
    ::kill(pid_, SIGTERM);
    int st = 0;
    for (int i = 0; i < 1500; ++i) {
        if (::waitpid(pid_, &st, WNOHANG) == pid_) {
            pid_ = -1;
            return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    kill9();
    return -1;
}

}  // namespace arclight::test
