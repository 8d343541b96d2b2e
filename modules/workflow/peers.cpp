#include "modules/workflow/peers.hpp"

#include "core/util/suppress_coroutine_frame_warning.hpp"

#include "core/db/notify.hpp"
#include "core/log/log.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>

#include <optional>

namespace arclight::workflow {
namespace asio = boost::asio;

namespace {

constexpr const char* kChannel = "arclight_workflow";

// No relay (an engine on its own, e.g. in a test): nobody to tell.
class NoPeers final : public PeerLink {
public:
    void start(Handler) override {}
    void stop() override {}
    void send(std::string) override {}
};

// The instance's NotifyRelay (core/db/notify.hpp): one LISTEN connection that reconnects. After a
// reconnection, messages sent meanwhile are lost: the handler gets "" (look for runs to claim);
// definition caches expire by themselves (workflow.trigger_refresh_ms).
class RelayPeers final : public PeerLink {
public:
    RelayPeers(NotifyRelay& relay, asio::any_io_executor io) : relay_(relay), io_(std::move(io)) {}
    ~RelayPeers() override { stop(); }

    void start(Handler handler) override {
        subscription_ = relay_.subscribe(kChannel, [handler](std::string payload) { handler(payload); },
                                         [handler] { handler(""); });
    }

    // The handler holds the engine: dropping the subscription breaks that cycle.
    void stop() override {
        if (subscription_) relay_.unsubscribe(*subscription_);
        subscription_.reset();
    }

    void send(std::string payload) override {
        NotifyRelay* relay = &relay_;
        auto body = [relay, payload = std::move(payload)]() -> asio::awaitable<void> {
            try {
                co_await relay->notify_async(kChannel, payload);
            } catch (const std::exception& e) {
                log::warn("workflow", "NOTIFY failed: {}", e.what());
            }
        };
        asio::co_spawn(io_, std::move(body), asio::detached);
    }

private:
    NotifyRelay& relay_;
    asio::any_io_executor io_;
    std::optional<NotifyRelay::SubscriptionId> subscription_;
};

}  // namespace

std::unique_ptr<PeerLink> make_peer_link(NotifyRelay* relay, asio::any_io_executor io) {
    if (relay) return std::make_unique<RelayPeers>(*relay, std::move(io));
    return std::make_unique<NoPeers>();
}

}  // namespace arclight::workflow
