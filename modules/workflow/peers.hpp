#pragma once
// How engine instances wake each other (PostgreSQL: NOTIFY arclight_workflow). Payloads: ""
// means "runs are waiting to be claimed", "cancel:<run id>" asks the owner of a run to cancel it
// now, "workflow:<id>" says a workflow definition changed (caches drop it). Carried by the
// instance's NotifyRelay; on SQLite (one process per file) it only reaches this instance.
#include <boost/asio/any_io_executor.hpp>

#include <functional>
#include <memory>
#include <string>

namespace arclight {
class NotifyRelay;
}

namespace arclight::workflow {

class PeerLink {
public:
    using Handler = std::function<void(const std::string& payload)>;
    virtual ~PeerLink() = default;
    /// Starts listening; `handler` runs on the relay's thread for every message of another
    /// instance (and of this one); "" also after the relay reconnected (messages may be lost).
    virtual void start(Handler handler) = 0;
    /// Stops listening; when it returns the handler is not running and will not be called.
    virtual void stop() = 0;
    /// Sends `payload` to every instance (asynchronous; failures are logged).
    virtual void send(std::string payload) = 0;
};

/// The link over the instance's relay (core/db/notify.hpp; on SQLite it has no one else to tell),
/// or none when `relay` is null.
std::unique_ptr<PeerLink> make_peer_link(NotifyRelay* relay, boost::asio::any_io_executor io);

}  // namespace arclight::workflow
