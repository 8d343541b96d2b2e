#include "tests/support/fake_http.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <mutex>
#include <stdexcept>
#include <vector>

namespace arclight::test {

struct FakeHttpServer::Impl {
    Handler handler;
    int fd = -1;
    std::atomic<bool> stop{false};
    std::atomic<int> active{0};
    std::thread acceptor;

    void serve(int c) {
        std::string in;
        char buf[8192];
        std::size_t header_end = std::string::npos;
        std::size_t need = 0;
        while (true) {
            pollfd p{c, POLLIN, 0};
            if (poll(&p, 1, 5000) <= 0) break;
            auto n = ::recv(c, buf, sizeof buf, 0);
            if (n <= 0) break;
            in.append(buf, static_cast<std::size_t>(n));
            if (header_end == std::string::npos) {
                header_end = in.find("\r\n\r\n");
                if (header_end != std::string::npos) {
                    std::string lower = in.substr(0, header_end);
                    for (auto& ch : lower) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
                    auto cl = lower.find("content-length:");
                    need = cl == std::string::npos ? 0 : std::stoul(lower.substr(cl + 15));
                }
            }
            if (header_end != std::string::npos && in.size() >= header_end + 4 + need) break;
        }
        if (header_end != std::string::npos) {
            FakeRequest req;
            auto line_end = in.find("\r\n");
            auto line = in.substr(0, line_end);
            auto sp1 = line.find(' '), sp2 = line.rfind(' ');
            req.method = line.substr(0, sp1);
            req.target = line.substr(sp1 + 1, sp2 - sp1 - 1);
            req.body = in.substr(header_end + 4, need);
            req.head = in.substr(0, header_end);
            FakeResponse resp = handler(req);
            if (resp.delay_ms > 0) {
                auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(resp.delay_ms);
                while (!stop && std::chrono::steady_clock::now() < until) std::this_thread::sleep_for(std::chrono::milliseconds(10));
            }
            std::string out = "HTTP/1.1 " + std::to_string(resp.status) + " X\r\nContent-Type: " + resp.content_type +
                              "\r\nContent-Length: " + std::to_string(resp.body.size()) + "\r\nConnection: close\r\n\r\n" + resp.body;
            ::send(c, out.data(), out.size(), MSG_NOSIGNAL);
        }
        ::close(c);
    }
};

FakeHttpServer::FakeHttpServer(Handler handler) : impl_(std::make_shared<Impl>()) {
    impl_->handler = std::move(handler);
    impl_->fd = ::socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    ::setsockopt(impl_->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = 0;
    if (::bind(impl_->fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(impl_->fd, 256) != 0)
        throw std::runtime_error("fake http server: bind/listen failed");
    socklen_t len = sizeof a;
    ::getsockname(impl_->fd, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    auto impl = impl_;
    impl_->acceptor = std::thread([impl] {
        while (!impl->stop) {
            pollfd p{impl->fd, POLLIN, 0};
            if (poll(&p, 1, 50) <= 0) continue;
            int c = ::accept(impl->fd, nullptr, nullptr);
            if (c < 0) continue;
            ++impl->active;
            std::thread([impl, c] {
                impl->serve(c);
                --impl->active;
            }).detach();
        }
    });
}

FakeHttpServer::~FakeHttpServer() {
    impl_->stop = true;
    if (impl_->acceptor.joinable()) impl_->acceptor.join();
    ::close(impl_->fd);
    for (int i = 0; i < 600 && impl_->active > 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
}

}  // namespace arclight::test
