#pragma once
// Small blocking Beast clients for tests: HTTP, raw TCP (for malformed and slow input) and WebSocket.

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <boost/json/value.hpp>

namespace arclight::test {

struct HttpResult {
    int status = 0;
    std::map<std::string, std::string> headers;  // lower-case names
    std::string body;
    boost::json::value json() const;
    std::string header(const std::string& lower_name) const;
};

/// One request on a fresh connection. Throws on connection errors.
HttpResult http(unsigned short port, const std::string& method, const std::string& target,
                const std::string& body = {}, const std::map<std::string, std::string>& headers = {});

/// Logs a user in: the Cookie and X-CSRF-Token headers of the new session. Throws when the login
/// is refused.
std::map<std::string, std::string> login_headers(unsigned short port, const std::string& username, const std::string& password);

/// A raw TCP connection for malformed or slow input.
class RawConnection {
public:
    explicit RawConnection(unsigned short port);
    ~RawConnection();
    void send(const std::string& bytes);
    /// Reads until the server closes or `timeout` passes; returns what arrived.
    std::string read_all(std::chrono::milliseconds timeout);
    /// True when the server closed the connection (read returned EOF/reset) within `timeout`.
    bool closed_within(std::chrono::milliseconds timeout);

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

/// A WebSocket client on /ws.
class WsClient {
public:
    /// Connects; `headers` are added to the upgrade request (e.g. Authorization). Throws when the
    /// server refuses the upgrade.
    explicit WsClient(unsigned short port, const std::map<std::string, std::string>& headers = {});
    ~WsClient();
    void send_text(const std::string& text);
    void send_binary(const std::string& bytes);
    /// Sends a ping (or an unsolicited pong) control frame; false when the connection refused the write.
    bool ping();
    bool pong();
    /// Next message, or nullopt when none arrives within `timeout` or the connection closed.
    std::optional<std::string> read(std::chrono::milliseconds timeout = std::chrono::seconds(5));
    /// Reads until a message whose "type" equals `type` (others are skipped).
    std::optional<boost::json::value> read_type(const std::string& type,
                                                std::chrono::milliseconds timeout = std::chrono::seconds(5));
    /// The close code the server sent, if the connection was closed.
    std::optional<int> close_code() const;
    /// The reason the server gave with its close frame.
    std::string close_reason() const;

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace arclight::test

namespace arclight::test {
/// One request over TLS (certificate not verified: tests use a self-signed one).
HttpResult https(unsigned short port, const std::string& method, const std::string& target,
                 const std::string& body = {}, const std::map<std::string, std::string>& headers = {});
/// Opens a WSS connection with `headers`, sends {"type":"ping"} and returns the first reply.
std::string wss_ping(unsigned short port, const std::map<std::string, std::string>& headers);
}  // namespace arclight::test
