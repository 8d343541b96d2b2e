#pragma once
// AccessControl: the single point where a request is admitted. The auth module installs its
// check here; core calls it before every matched route's handler and before a WebSocket upgrade.
// Without an installed check (auth disabled) every request is admitted.

#include "core/http/message.hpp"
#include "core/http/router.hpp"

#include <boost/asio/awaitable.hpp>

#include <functional>
#include <optional>

namespace arclight {

class AccessControl {
public:
    /// Admits a request (returns nullopt, after setting req.principal) or answers it (401, 403...).
    /// `route` is null for a WebSocket upgrade, which only needs an authenticated principal.
    using Check = std::function<boost::asio::awaitable<std::optional<HttpResponse>>(const Route* route, HttpRequest& req)>;

    /// Installs the check; only once (a second install is a programmer error: std::logic_error).
    void install(Check check) {
        if (check_) throw std::logic_error("an access check is already installed");
        check_ = std::move(check);
    }
    bool installed() const noexcept { return static_cast<bool>(check_); }
    const Check& check() const noexcept { return check_; }

private:
    Check check_;
};

}  // namespace arclight
