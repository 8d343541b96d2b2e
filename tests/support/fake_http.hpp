#pragma once
// A tiny HTTP/1.1 server for tests (one thread per connection, Connection: close): the far end
// of http tasks, with per-test behaviour (counting, failing, slowness).
#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <thread>

namespace arclight::test {

struct FakeRequest {
    std::string method, target, body;
    std::string head;  ///< the request line and header fields, as received
};

struct FakeResponse {
    int status = 200;
    std::string body = "{}";
    std::string content_type = "application/json";
    int delay_ms = 0;
};

class FakeHttpServer {
public:
    using Handler = std::function<FakeResponse(const FakeRequest&)>;
    explicit FakeHttpServer(Handler handler);
    ~FakeHttpServer();
    unsigned short port() const { return port_; }
    std::string url(const std::string& path) const { return "http://127.0.0.1:" + std::to_string(port_) + path; }

private:
    struct Impl;
    std::shared_ptr<Impl> impl_;
    unsigned short port_ = 0;
};

}  // namespace arclight::test
