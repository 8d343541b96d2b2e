#pragma once
// How engine instances wake each other (PostgreSQL: NOTIFY arclight_workflow). Payloads: ""
// means "runs are waiting to be claimed", "cancel:<run id>" asks the owner of a run to cancel it
// now, "workflow:<id>" says a workflow definition changed (caches drop it). On SQLite (one
// process per file) there is nobody to tell.
#include <boost/asio/any_io_executor.hpp>

#include <functional>
#include <memory>
#include <string>

namespace arclight {
class Db;
}

namespace arclight::workflow {

class PeerLink {
public:
    using Handler = std::function<void(const std::string& payload)>;
    virtual ~PeerLink() = default;
    /// Starts listening; `handler` runs on the listener's thread for every message of another
    /// instance (and of this one).
    virtual void start(Handler handler) = 0;
    /// Stops listening (joins the listener).
    virtual void stop() = 0;
    /// Sends `payload` to every instance (asynchronous; failures are logged).
    virtual void send(std::string payload) = 0;
};

/// The link for `db`'s backend.
std::unique_ptr<PeerLink> make_peer_link(Db& db, boost::asio::any_io_executor io);

}  // namespace arclight::workflow
