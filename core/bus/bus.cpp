#include "core/bus/bus.hpp"

#include "core/log/log.hpp"
#include "core/time/time.hpp"
#include "core/util/ids.hpp"

#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>

#include <cctype>

namespace arclight {

bool topic_matches(std::string_view pattern, std::string_view topic) {
    while (true) {
        auto pdot = pattern.find('.');
        auto pseg = pattern.substr(0, pdot);
        if (pseg == "**") return true;
        auto tdot = topic.find('.');
        auto tseg = topic.substr(0, tdot);
        if (pseg != "*" && pseg != tseg) return false;
        bool plast = pdot == std::string_view::npos, tlast = tdot == std::string_view::npos;
        if (plast || tlast) {
            if (plast && tlast) return true;
            // pattern "a.**" matches topic "a"
            return tlast && !plast && pattern.substr(pdot + 1) == "**";
        }
        pattern.remove_prefix(pdot + 1);
        topic.remove_prefix(tdot + 1);
    }
}

bool valid_topic_pattern(std::string_view pattern) {
    if (pattern.empty() || pattern.size() > 256) return false;
    std::size_t start = 0;
    while (true) {
        auto dot = pattern.find('.', start);
        auto seg = pattern.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start);
        if (seg.empty()) return false;
        if (seg == "**" && dot != std::string_view::npos) return false;
        if (seg != "*" && seg != "**") {
            for (char c : seg) {
                if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-')) return false;
            }
        }
        if (dot == std::string_view::npos) return true;
        start = dot + 1;
    }
}

struct Subscription::State {
    State(std::string p, EventBus::Handler h, boost::asio::strand<boost::asio::any_io_executor> s)
        : pattern(std::move(p)), handler(std::move(h)), strand(std::move(s)) {}
    std::string pattern;
    EventBus::Handler handler;
    boost::asio::strand<boost::asio::any_io_executor> strand;
    std::atomic<bool> active{true};
    std::atomic<std::size_t> pending{0};
    std::function<void(Subscription::State*)> on_reset;
};

void Subscription::reset() {
    if (!state_) return;
    state_->active = false;
    if (state_->on_reset) state_->on_reset(state_.get());
    state_.reset();
}

struct EventBus::Impl {
    boost::asio::any_io_executor executor;
    std::size_t max_pending;
    mutable std::mutex mu;
    std::vector<std::shared_ptr<Subscription::State>> subs;
    std::function<void(const Event&)> observer;
    std::atomic<std::uint64_t> published{0}, delivered{0}, dropped{0};
};

EventBus::EventBus(boost::asio::any_io_executor executor, std::size_t max_pending)
    : impl_(std::make_shared<Impl>()) {
    impl_->executor = std::move(executor);
    impl_->max_pending = max_pending;
}

EventBus::~EventBus() {
    std::lock_guard lk(impl_->mu);
    for (auto& s : impl_->subs) s->active = false;
    impl_->subs.clear();
}

Subscription EventBus::subscribe(std::string pattern, Handler handler) {
    auto st = std::make_shared<Subscription::State>(std::move(pattern), std::move(handler),
                                                    boost::asio::make_strand(impl_->executor));
    std::weak_ptr<Impl> weak = impl_;
    st->on_reset = [weak](Subscription::State* self) {
        if (auto impl = weak.lock()) {
            std::lock_guard lk(impl->mu);
            std::erase_if(impl->subs, [self](const auto& p) { return p.get() == self; });
        }
    };
    std::lock_guard lk(impl_->mu);
    impl_->subs.push_back(st);
    return Subscription(st);
}

EventPtr EventBus::publish(std::string topic, boost::json::object data, std::string trace, std::string project) {
    auto ev = std::make_shared<Event>(Event{std::move(topic), new_time_uuid(), now_ms(), std::move(data), std::move(trace), std::move(project)});
    publish(ev);
    return ev;
}

bool EventBus::has_subscribers(std::string_view topic) const {
    std::lock_guard lk(impl_->mu);
    if (impl_->observer) return true;
    for (const auto& s : impl_->subs)
        if (topic_matches(s->pattern, topic)) return true;
    return false;
}

void EventBus::publish(EventPtr event) {
    impl_->published.fetch_add(1, std::memory_order_relaxed);
    std::vector<std::shared_ptr<Subscription::State>> targets;
    std::function<void(const Event&)> observer;
    {
        std::lock_guard lk(impl_->mu);
        for (const auto& s : impl_->subs) {
            if (topic_matches(s->pattern, event->topic)) targets.push_back(s);
        }
        observer = impl_->observer;
    }
    if (observer) observer(*event);
    for (auto& s : targets) {
        if (s->pending.fetch_add(1, std::memory_order_relaxed) >= impl_->max_pending) {
            s->pending.fetch_sub(1, std::memory_order_relaxed);
            impl_->dropped.fetch_add(1, std::memory_order_relaxed);
            continue;
        }
        std::weak_ptr<Impl> weak = impl_;
        boost::asio::post(s->strand, [s, event, weak] {
            s->pending.fetch_sub(1, std::memory_order_relaxed);
            if (!s->active.load()) return;
            try {
                s->handler(event);
            } catch (const std::exception& e) {
                log::error("bus", "subscriber of {} threw on {}: {}", s->pattern, event->topic, e.what());
            }
            if (auto impl = weak.lock()) impl->delivered.fetch_add(1, std::memory_order_relaxed);
        });
    }
}

BusStats EventBus::stats() const {
    BusStats st;
    st.published = impl_->published.load();
    st.delivered = impl_->delivered.load();
    st.dropped = impl_->dropped.load();
    std::lock_guard lk(impl_->mu);
    st.subscribers = impl_->subs.size();
    return st;
}

void EventBus::set_observer(std::function<void(const Event&)> observer) {
    std::lock_guard lk(impl_->mu);
    impl_->observer = std::move(observer);
}

}  // namespace arclight
