// bench_workflow_runs: run throughput of arclight's workflow engine (see bench/README.md).
//
// Against a running server, starts N runs of one workflow through
// POST /api/v1/workflows/{id}/runs over C keep-alive connections, and learns when each finishes
// from the server's WebSocket (/ws, subscribed to workflow.run.succeeded/failed/cancelled: only
// the terminal topics, so the server does not build the queued/running events for nobody).
// Prints runs/s, tasks/s, start-to-finish latency, and the engine's database counters
// (GET /api/v1/workflow/stats, before/after deltas).
//
//   bench_workflow_runs --port P --key ak_... --workflow ID [--runs N] [--connections C] ...
//
// Clocks:
//   * elapsed: from the first POST written to the last terminal event received (client side,
//     steady clock). runs/s = runs / elapsed.
//   * client latency: per run, POST written -> its terminal event received.
//   * server latency: per run, finished_at - created_at of the run (the server's wall clock,
//     millisecond resolution), read afterwards from GET /api/v1/runs pages.
// When the WebSocket drops (a slow consumer is disconnected by the server) or no event arrives
// for --stall seconds, the runs still open are polled with GET /api/v1/runs/{id}; their finish
// time is then the poll's (later than the real one), and the output says how many.
//
// One line starting with "RESULT " carries every figure as key=value, for scripts.
// Exit status: 0 when every run was started and seen terminal, 1 otherwise, 2 on bad usage.

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/as_tuple.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/json.hpp>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <optional>
#include <stdexcept>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
namespace json = boost::json;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;

namespace {

struct Options {
    std::string host = "127.0.0.1";
    std::string port;
    std::string key;
    std::string workflow;
    std::size_t runs = 2000;
    std::size_t connections = 16;
    std::size_t warmup = 200;
    std::size_t in_flight = 0;  // runs started and not finished; 0 = no cap
    double tasks_per_run = 0;   // 0: from the stats delta
    double stall_s = 10;
    double timeout_s = 300;
    std::string input = "{}";
    bool server_times = true;
};

void usage(const char* argv0) {
    std::fprintf(stderr,
                 "usage: %s --port P --key KEY --workflow ID [options]\n"
                 "  --host H          server address (127.0.0.1)\n"
                 "  --key KEY         API key (ak_...), sent as Authorization: Bearer KEY; needs runs.start, runs.read\n"
                 "  --runs N          measured runs (2000)\n"
                 "  --connections C   concurrent keep-alive connections starting runs (16)\n"
                 "  --warmup W        runs started and awaited first, not measured (200)\n"
                 "  --in-flight M     at most M runs started and not finished (0: no cap, all N as fast as\n"
                 "                    the POSTs go)\n"
                 "  --tasks K         tasks per run for tasks/s (default: the server's tasks_run delta)\n"
                 "  --input JSON      the run input ({})\n"
                 "  --stall S         no event for S seconds: poll the open runs (10)\n"
                 "  --timeout S       give up after S seconds (300)\n"
                 "  --no-server-times do not read created_at/finished_at back from GET /api/v1/runs\n",
                 argv0);
}


// Milliseconds since the epoch of "2026-11-26T12:34:56.789Z"; -1 if it does not parse.
long long parse_iso_ms(std::string_view s) {
    std::tm tm{};
    int ms = 0;
    std::string str(s);
    if (std::sscanf(str.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour, &tm.tm_min,
                    &tm.tm_sec) != 6)
        return -1;
    auto dot = str.find('.');
    if (dot != std::string::npos) {
        int digits = 0;
        for (std::size_t i = dot + 1; i < str.size() && std::isdigit(static_cast<unsigned char>(str[i])) && digits < 3; ++i, ++digits)
            ms = ms * 10 + (str[i] - '0');
        while (digits++ < 3) ms *= 10;
    }
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    return static_cast<long long>(timegm(&tm)) * 1000 + ms;
}

double percentile(std::vector<double> v, double p) {
    if (v.empty()) return NAN;
    std::sort(v.begin(), v.end());
    // nearest rank
    auto rank = static_cast<std::size_t>(std::ceil(p / 100.0 * static_cast<double>(v.size())));
    if (rank < 1) rank = 1;
    return v[std::min(rank, v.size()) - 1];
}

struct RunSlot {
    std::string id;
    Clock::time_point sent, answered, done;
    bool answered_ok = false;
    bool finished = false;
    bool polled = false;  // finish time from a poll, not from an event
    std::string status;
};

struct Http {
    beast::tcp_stream stream;
    beast::flat_buffer buf;
    explicit Http(asio::any_io_executor ex) : stream(ex) {}
};

class Bench {
public:
    Bench(asio::io_context& ioc, Options o) : ioc_(ioc), o_(std::move(o)) {}

    asio::awaitable<int> main();

private:
    asio::awaitable<tcp::endpoint> endpoint() {
        tcp::resolver resolver(ioc_);
        auto results = co_await resolver.async_resolve(o_.host, o_.port, asio::use_awaitable);
        co_return *results.begin();
    }

    asio::awaitable<void> connect(Http& h) {
        co_await h.stream.async_connect(ep_, asio::use_awaitable);
        h.stream.socket().set_option(tcp::no_delay(true));
    }

    // One request on a keep-alive connection; reconnects once if the server closed it.
    asio::awaitable<http::response<http::string_body>> request(Http& h, http::verb verb, const std::string& target,
                                                               const std::string& body) {
        http::request<http::string_body> req{verb, target, 11};
        req.set(http::field::host, o_.host);
        req.set(http::field::authorization, "Bearer " + o_.key);
        if (!body.empty()) {
            req.set(http::field::content_type, "application/json");
            req.body() = body;
        }
        req.keep_alive(true);
        req.prepare_payload();
        for (int attempt = 0;; ++attempt) {
            if (!h.stream.socket().is_open()) co_await connect(h);
            auto [wec, wn] = co_await http::async_write(h.stream, req, asio::as_tuple(asio::use_awaitable));
            http::response<http::string_body> res;
            beast::error_code rec = wec;
            if (!wec) {
                auto [ec2, rn] = co_await http::async_read(h.stream, h.buf, res, asio::as_tuple(asio::use_awaitable));
                rec = ec2;
                (void)rn;
            }
            (void)wn;
            if (!rec) {
                if (!res.keep_alive()) {
                    beast::error_code ignored;
                    h.stream.socket().close(ignored);
                }
                co_return res;
            }
            beast::error_code ignored;
            h.stream.socket().close(ignored);
            h.buf.clear();
            if (attempt >= 1) throw std::runtime_error(std::string(http::to_string(verb)) + " " + target + ": " + rec.message());
        }
    }

    asio::awaitable<json::object> get_json(Http& h, const std::string& target) {
        const std::string no_body;
        auto res = co_await request(h, http::verb::get, target, no_body);
        if (res.result_int() != 200)
            throw std::runtime_error("GET " + target + " answered " + std::to_string(res.result_int()) + ": " + res.body());
        auto v = json::parse(res.body());
        if (!v.is_object()) throw std::runtime_error("GET " + target + ": not a JSON object");
        co_return v.as_object();
    }

    // Wakes every coroutine waiting in wait_wake (each waits on a timer of its own).
    void notify() {
        for (auto* t : waiters_) t->cancel();
    }

    asio::awaitable<void> wait_wake(std::chrono::milliseconds max) {
        asio::steady_timer t(ioc_, max);
        waiters_.push_back(&t);
        auto [ec] = co_await t.async_wait(asio::as_tuple(asio::use_awaitable));
        (void)ec;
        waiters_.erase(std::find(waiters_.begin(), waiters_.end(), &t));
    }

    void mark_done(std::size_t i, Clock::time_point t, std::string status, bool polled) {
        auto& r = slots_[i];
        if (r.finished) return;
        r.finished = true;
        r.done = t;
        r.status = std::move(status);
        r.polled = polled;
        ++finished_;
        last_progress_ = t;
        if (r.status == "succeeded") ++succeeded_;
        notify();
    }

    // The WebSocket reader: terminal run events of our workflow.
    asio::awaitable<void> ws_reader() {
        try {
            beast::flat_buffer buf;
            for (;;) {
                buf.clear();
                co_await ws_->async_read(buf, asio::use_awaitable);
                auto t = Clock::now();
                auto text = beast::buffers_to_string(buf.data());
                boost::system::error_code jec;
                auto v = json::parse(text, jec);
                if (jec || !v.is_object()) continue;
                auto& o = v.as_object();
                auto* type = o.if_contains("type");
                if (!type || !type->is_string()) continue;
                if (type->as_string() == "subscribed") {
                    subscribed_ = true;
                    notify();
                    continue;
                }
                if (type->as_string() == "error") {
                    std::fprintf(stderr, "bench_workflow_runs: WebSocket error message: %s\n", text.c_str());
                    continue;
                }
                if (type->as_string() != "event") continue;
                auto* data = o.if_contains("data");
                if (!data || !data->is_object()) continue;
                auto& d = data->as_object();
                auto* wf = d.if_contains("workflow_id");
                auto* rid = d.if_contains("run_id");
                auto* st = d.if_contains("status");
                if (!rid || !rid->is_string()) continue;
                if (wf && wf->is_string() && wf->as_string() != o_.workflow) continue;
                ++events_;
                std::string id(rid->as_string());
                std::string status = st && st->is_string() ? std::string(st->as_string()) : std::string("?");
                auto it = index_.find(id);
                if (it != index_.end()) {
                    mark_done(it->second, t, std::move(status), false);
                } else {
                    // The event can beat the POST's answer: keep it until the id is known.
                    early_.emplace(std::move(id), std::make_pair(t, std::move(status)));
                }
            }
        } catch (const std::exception& e) {
            if (!stopping_) {
                ws_error_ = e.what();
                notify();
            }
        }
    }

    // A connection that starts runs: takes the next run index until all are started.
    asio::awaitable<void> starter(std::size_t first, std::size_t end) {
        Http h(ioc_.get_executor());
        const std::string target = "/api/v1/workflows/" + o_.workflow + "/runs";
        const std::string body = "{\"input\":" + o_.input + "}";
        try {
            for (;;) {
                while (o_.in_flight > 0 && next_ < end && next_ - first - finished_in(first) >= o_.in_flight && !abort_)
                    co_await wait_wake(std::chrono::milliseconds(50));
                if (next_ >= end || abort_) break;
                std::size_t i = next_++;
                auto& r = slots_[i];
                r.sent = Clock::now();
                auto res = co_await request(h, http::verb::post, target, body);
                auto& slot = slots_[i];  // slots_ is never resized while starters run
                slot.answered = Clock::now();
                if (res.result_int() != 201) {
                    ++start_errors_;
                    if (first_error_.empty())
                        first_error_ = "POST " + target + " answered " + std::to_string(res.result_int()) + ": " + res.body();
                    slot.finished = true;  // never started: not waited for
                    slot.status = "not started";
                    ++finished_;
                    notify();
                    continue;
                }
                boost::system::error_code jec;
                auto v = json::parse(res.body(), jec);
                if (jec || !v.is_object() || !v.as_object().contains("id")) {
                    ++start_errors_;
                    if (first_error_.empty()) first_error_ = "POST answer without an id: " + res.body();
                    slot.finished = true;
                    slot.status = "not started";
                    ++finished_;
                    notify();
                    continue;
                }
                slot.id = std::string(v.as_object().at("id").as_string());
                slot.answered_ok = true;
                ++answered_;
                index_.emplace(slot.id, i);
                if (auto it = early_.find(slot.id); it != early_.end()) {
                    auto [t, st] = std::move(it->second);
                    early_.erase(it);
                    mark_done(i, t, std::move(st), false);
                }
            }
        } catch (const std::exception& e) {
            if (first_error_.empty()) first_error_ = e.what();
            abort_ = true;
            notify();
        }
        --starters_left_;
        notify();
    }

    std::size_t finished_in(std::size_t /*first*/) const { return finished_ - finished_base_; }

    // Polls the open runs of [first, end) once each with GET /api/v1/runs/{id}.
    asio::awaitable<void> poll_open(Http& h, std::size_t first, std::size_t end) {
        for (std::size_t i = first; i < end; ++i) {
            auto& r = slots_[i];
            if (r.finished || !r.answered_ok) continue;
            const std::string target = "/api/v1/runs/" + r.id;
            auto o = co_await get_json(h, target);
            auto* st = o.if_contains("status");
            if (!st || !st->is_string()) continue;
            std::string s(st->as_string());
            if (s == "succeeded" || s == "failed" || s == "cancelled") mark_done(i, Clock::now(), s, true);
        }
    }

    // Starts runs [first, end) and waits until each is terminal. Returns false on a fatal error.
    asio::awaitable<bool> phase(std::size_t first, std::size_t end, const char* what) {
        finished_base_ = finished_;
        next_ = first;
        starters_left_ = std::min(o_.connections, end - first);
        last_progress_ = Clock::now();
        phase_start_ = Clock::now();
        auto n = starters_left_;
        for (std::size_t c = 0; c < n; ++c) {
            auto sp = starter(first, end);
            asio::co_spawn(ioc_, std::move(sp), asio::detached);
        }
        Http poller(ioc_.get_executor());
        auto deadline = Clock::now() + std::chrono::milliseconds(static_cast<long long>(o_.timeout_s * 1000));
        while (!(starters_left_ == 0 && finished_ - finished_base_ >= end - first)) {
            co_await wait_wake(std::chrono::milliseconds(20));
            if (abort_) break;
            auto now = Clock::now();
            if (now > deadline) {
                std::fprintf(stderr, "bench_workflow_runs: %s: timeout after %.0f s with %zu of %zu runs open\n", what,
                             o_.timeout_s, end - first - (finished_ - finished_base_), end - first);
                break;
            }
            bool stalled = std::chrono::duration<double>(now - last_progress_).count() > o_.stall_s;
            if ((!ws_error_.empty() || stalled) && starters_left_ == 0) {
                if (!ws_error_.empty() && !ws_reported_) {
                    std::fprintf(stderr, "bench_workflow_runs: the WebSocket ended (%s): polling the open runs\n", ws_error_.c_str());
                    ws_reported_ = true;
                }
                try {
                    co_await poll_open(poller, first, end);
                } catch (const std::exception& e) {
                    if (first_error_.empty()) first_error_ = e.what();
                    abort_ = true;
                }
                last_progress_ = Clock::now();
            }
        }
        while (starters_left_ > 0) co_await wait_wake(std::chrono::milliseconds(20));
        co_return !abort_;
    }

    // Engine counters; waits (up to 3 s) until no run is active and the row counters are still.
    asio::awaitable<json::object> settled_stats(Http& h) {
        const std::string target = "/api/v1/workflow/stats";
        json::object prev = co_await get_json(h, target);
        for (int i = 0; i < 30; ++i) {
            co_await wait_wake(std::chrono::milliseconds(100));
            json::object cur = co_await get_json(h, target);
            auto same = cur.at("rows_written") == prev.at("rows_written") && cur.at("tasks_run") == prev.at("tasks_run");
            bool idle = !cur.contains("active_runs") || cur.at("active_runs").to_number<long long>() == 0;
            prev = std::move(cur);
            if (same && idle) break;
        }
        co_return prev;
    }

    asio::io_context& ioc_;
    Options o_;
    tcp::endpoint ep_;
    std::vector<asio::steady_timer*> waiters_;
    std::optional<websocket::stream<beast::tcp_stream>> ws_;
    bool subscribed_ = false;
    bool stopping_ = false;
    bool abort_ = false;
    bool ws_reported_ = false;
    std::string ws_error_;
    std::string first_error_;
    std::vector<RunSlot> slots_;
    std::unordered_map<std::string, std::size_t> index_;
    std::unordered_map<std::string, std::pair<Clock::time_point, std::string>> early_;
    std::size_t next_ = 0, finished_ = 0, finished_base_ = 0, succeeded_ = 0, answered_ = 0, start_errors_ = 0,
                starters_left_ = 0, events_ = 0;
    Clock::time_point last_progress_, phase_start_;
};

asio::awaitable<int> Bench::main() {
    ep_ = co_await endpoint();
    Http h(ioc_.get_executor());
    {
        // The workflow exists and the key works.
        const std::string target = "/api/v1/workflows/" + o_.workflow, no_body;
        auto wf = co_await request(h, http::verb::get, target, no_body);
        if (wf.result_int() != 200) {
            std::fprintf(stderr, "bench_workflow_runs: GET /api/v1/workflows/%s answered %u: %s\n", o_.workflow.c_str(),
                         wf.result_int(), wf.body().c_str());
            co_return 1;
        }
    }

    // WebSocket, subscribed to the terminal run topics.
    ws_.emplace(ioc_.get_executor());
    co_await beast::get_lowest_layer(*ws_).async_connect(ep_, asio::use_awaitable);
    beast::get_lowest_layer(*ws_).socket().set_option(tcp::no_delay(true));
    {
        std::string auth = "Bearer " + o_.key;
        ws_->set_option(websocket::stream_base::decorator([auth](websocket::request_type& r) {
            r.set(http::field::authorization, auth);
        }));
    }
    const std::string host_port = o_.host + ":" + o_.port;
    co_await ws_->async_handshake(host_port, "/ws", asio::use_awaitable);
    ws_->text(true);
    const std::string sub =
        R"({"type":"subscribe","topics":["workflow.run.succeeded","workflow.run.failed","workflow.run.cancelled"]})";
    const auto sub_buf = asio::buffer(sub);
    co_await ws_->async_write(sub_buf, asio::use_awaitable);
    asio::co_spawn(ioc_, ws_reader(), asio::detached);
    auto sub_deadline = Clock::now() + std::chrono::seconds(10);
    while (!subscribed_ && ws_error_.empty() && Clock::now() < sub_deadline) co_await wait_wake(std::chrono::milliseconds(20));
    if (!subscribed_) {
        std::fprintf(stderr, "bench_workflow_runs: no {\"type\":\"subscribed\"} on /ws (%s)\n",
                     ws_error_.empty() ? "timeout" : ws_error_.c_str());
        co_return 1;
    }

    slots_.resize(o_.warmup + o_.runs);
    if (o_.warmup > 0) {
        bool ok = co_await phase(0, o_.warmup, "warm-up");
        if (!ok || start_errors_ > 0) {
            std::fprintf(stderr, "bench_workflow_runs: warm-up failed: %s\n", first_error_.c_str());
            co_return 1;
        }
    }

    json::object before = co_await settled_stats(h);
    const std::size_t first = o_.warmup, end = o_.warmup + o_.runs;
    const std::size_t succeeded_base = succeeded_;
    auto t0 = Clock::now();
    bool ok = co_await phase(first, end, "measurement");
    json::object after = co_await settled_stats(h);

    // Client-side figures.
    Clock::time_point last_done = t0, last_answer = t0;
    std::vector<double> lat;
    std::size_t polled = 0, failed = 0, open = 0;
    std::unordered_set<std::string> ours;
    for (std::size_t i = first; i < end; ++i) {
        auto& r = slots_[i];
        if (!r.answered_ok) continue;
        ours.insert(r.id);
        last_answer = std::max(last_answer, r.answered);
        if (!r.finished) {
            ++open;
            continue;
        }
        if (r.status != "succeeded") ++failed;
        if (r.polled) ++polled;
        last_done = std::max(last_done, r.done);
        lat.push_back(std::chrono::duration<double, std::milli>(r.done - r.sent).count());
    }
    const std::size_t started = ours.size();
    const std::size_t succeeded = succeeded_ - succeeded_base;
    double elapsed = std::chrono::duration<double>(last_done - t0).count();
    double start_elapsed = std::chrono::duration<double>(last_answer - t0).count();
    auto num = [](const json::object& o, const char* k) -> double {
        auto* v = o.if_contains(k);
        return v && v->is_number() ? v->to_number<double>() : 0.0;
    };
    auto delta = [&](const char* k) { return num(after, k) - num(before, k); };
    double tasks_run = delta("tasks_run"), rows = delta("rows_written"), batches = delta("write_batches"),
           unchanged = delta("rows_unchanged"), write_us = delta("write_time_us");
    double tasks_per_run = o_.tasks_per_run > 0 ? o_.tasks_per_run : (succeeded > 0 ? tasks_run / static_cast<double>(succeeded) : 0);
    double runs_per_s = elapsed > 0 ? static_cast<double>(started - open) / elapsed : 0;

    // Server-side latency: created_at -> finished_at of our runs, read back page by page.
    std::vector<double> srv_lat;
    long long srv_first_created = -1, srv_last_finished = -1;
    if (o_.server_times && started > 0) {
        std::string before_id;
        std::size_t seen = 0;
        for (int page = 0; page < static_cast<int>(started / 500) + 20 && seen < started; ++page) {
            std::string target = "/api/v1/runs?workflow_id=" + o_.workflow + "&limit=500";
            if (!before_id.empty()) target += "&before=" + before_id;
            auto o = co_await get_json(h, target);
            auto& items = o.at("items").as_array();
            for (auto& it : items) {
                auto& run = it.as_object();
                std::string id(run.at("id").as_string());
                if (!ours.count(id)) continue;
                ++seen;
                auto* c = run.if_contains("created_at");
                auto* f = run.if_contains("finished_at");
                if (!c || !f || !c->is_string() || !f->is_string()) continue;
                long long cm = parse_iso_ms(c->as_string()), fm = parse_iso_ms(f->as_string());
                if (cm < 0 || fm < 0) continue;
                srv_lat.push_back(static_cast<double>(fm - cm));
                if (srv_first_created < 0 || cm < srv_first_created) srv_first_created = cm;
                srv_last_finished = std::max(srv_last_finished, fm);
            }
            auto* next = o.if_contains("next");
            if (!next || !next->is_string() || items.empty()) break;
            before_id = std::string(next->as_string());
        }
    }
    double srv_span_s = srv_last_finished > srv_first_created && srv_first_created >= 0
                            ? static_cast<double>(srv_last_finished - srv_first_created) / 1000.0
                            : 0;

    stopping_ = true;
    beast::error_code ignored;
    beast::get_lowest_layer(*ws_).socket().close(ignored);

    auto p = [](double v) { return std::isnan(v) ? std::string("-") : std::to_string(v); };
    std::printf("workflow %s: %zu runs (after %zu warm-up runs) over %zu connections, in-flight cap %s\n", o_.workflow.c_str(),
                o_.runs, o_.warmup, o_.connections, o_.in_flight ? std::to_string(o_.in_flight).c_str() : "none");
    std::printf("  started   %zu in %.3f s (%.0f starts/s), %zu refused%s%s\n", started, start_elapsed,
                start_elapsed > 0 ? static_cast<double>(started) / start_elapsed : 0.0, start_errors_,
                first_error_.empty() ? "" : ": ", first_error_.c_str());
    std::printf("  finished  %zu (%zu succeeded, %zu not) in %.3f s: %.0f runs/s, %.0f tasks/s (%.2f tasks/run)%s\n",
                started - open, succeeded, failed, elapsed, runs_per_s, runs_per_s * tasks_per_run, tasks_per_run,
                open ? " -- SOME RUNS NEVER FINISHED" : "");
    std::printf("  latency, client (POST written -> terminal event received): p50 %.2f ms, p99 %.2f ms, max %.2f ms\n",
                percentile(lat, 50), percentile(lat, 99), percentile(lat, 100));
    if (!srv_lat.empty())
        std::printf("  latency, server (run created_at -> finished_at, ms resolution): p50 %.0f ms, p99 %.0f ms; "
                    "first created -> last finished %.3f s (%.0f runs/s)\n",
                    percentile(srv_lat, 50), percentile(srv_lat, 99), srv_span_s,
                    srv_span_s > 0 ? static_cast<double>(srv_lat.size()) / srv_span_s : 0.0);
    if (polled) std::printf("  %zu runs were seen finished by polling (the event was missed): their latency is an upper bound\n", polled);
    std::printf("  database: %.0f rows written in %.0f batches (%.1f rows/batch, %.0f commits/s, %.0f unchanged), %.2f rows/task, "
                "%.2f rows/run, writers busy %.0f ms (%.0f%% of the elapsed time, summed over the writers)\n",
                rows, batches, batches > 0 ? rows / batches : 0.0, elapsed > 0 ? batches / elapsed : 0.0, unchanged,
                tasks_run > 0 ? rows / tasks_run : 0.0,
                succeeded > 0 ? rows / static_cast<double>(succeeded) : 0.0, write_us / 1000.0,
                elapsed > 0 ? write_us / 1e4 / elapsed : 0.0);
    std::printf("RESULT runs=%zu started=%zu succeeded=%zu failed=%zu open=%zu refused=%zu polled=%zu elapsed_s=%.4f "
                "start_s=%.4f runs_per_s=%.1f tasks_per_s=%.1f tasks_per_run=%.3f p50_ms=%s p99_ms=%s srv_p50_ms=%s "
                "srv_p99_ms=%s srv_span_s=%.3f tasks_run=%.0f rows_written=%.0f write_batches=%.0f rows_unchanged=%.0f "
                "write_time_us=%.0f rows_per_task=%.3f rows_per_batch=%.2f commits_per_s=%.1f writer_busy_pct=%.1f\n",
                o_.runs, started, succeeded, failed, open, start_errors_, polled, elapsed, start_elapsed, runs_per_s,
                runs_per_s * tasks_per_run, tasks_per_run, p(percentile(lat, 50)).c_str(), p(percentile(lat, 99)).c_str(),
                p(percentile(srv_lat, 50)).c_str(), p(percentile(srv_lat, 99)).c_str(), srv_span_s, tasks_run, rows, batches,
                unchanged, write_us, tasks_run > 0 ? rows / tasks_run : 0.0, batches > 0 ? rows / batches : 0.0,
                elapsed > 0 ? batches / elapsed : 0.0, elapsed > 0 ? write_us / 1e4 / elapsed : 0.0);
    std::fflush(stdout);
    co_return ok && open == 0 && start_errors_ == 0 && failed == 0 ? 0 : 1;
}

bool parse_size(const char* s, std::size_t& out) {
    char* end = nullptr;
    auto v = std::strtoull(s, &end, 10);
    if (!end || *end || end == s) return false;
    out = static_cast<std::size_t>(v);
    return true;
}

bool parse_double(const char* s, double& out) {
    char* end = nullptr;
    out = std::strtod(s, &end);
    return end && !*end && end != s;
}

}  // namespace

int main(int argc, char** argv) {
    Options o;
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        auto value = [&]() -> const char* {
            if (i + 1 >= argc) {
                std::fprintf(stderr, "%s needs a value\n", a.c_str());
                std::exit(2);
            }
            return argv[++i];
        };
        bool ok = true;
        if (a == "--host") o.host = value();
        else if (a == "--port") o.port = value();
        else if (a == "--key") o.key = value();
        else if (a == "--workflow") o.workflow = value();
        else if (a == "--runs") ok = parse_size(value(), o.runs);
        else if (a == "--connections") ok = parse_size(value(), o.connections);
        else if (a == "--warmup") ok = parse_size(value(), o.warmup);
        else if (a == "--in-flight") ok = parse_size(value(), o.in_flight);
        else if (a == "--tasks") ok = parse_double(value(), o.tasks_per_run);
        else if (a == "--stall") ok = parse_double(value(), o.stall_s);
        else if (a == "--timeout") ok = parse_double(value(), o.timeout_s);
        else if (a == "--input") o.input = value();
        else if (a == "--no-server-times") o.server_times = false;
        else if (a == "-h" || a == "--help") {
            usage(argv[0]);
            return 0;
        } else {
            std::fprintf(stderr, "unknown option %s\n", a.c_str());
            usage(argv[0]);
            return 2;
        }
        if (!ok) {
            std::fprintf(stderr, "bad value for %s\n", a.c_str());
            return 2;
        }
    }
    if (o.port.empty() || o.key.empty() || o.workflow.empty() || o.runs == 0 || o.connections == 0) {
        usage(argv[0]);
        return 2;
    }
    {
        boost::system::error_code ec;
        json::parse(o.input, ec);
        if (ec) {
            std::fprintf(stderr, "--input is not JSON: %s\n", ec.message().c_str());
            return 2;
        }
    }
    int rc = 1;
    try {
        asio::io_context ioc(1);
        Bench bench(ioc, o);
        asio::co_spawn(ioc, bench.main(), [&](std::exception_ptr e, int r) {
            if (e) {
                try {
                    std::rethrow_exception(e);
                } catch (const std::exception& ex) {
                    std::fprintf(stderr, "bench_workflow_runs: %s\n", ex.what());
                }
                rc = 1;
            } else {
                rc = r;
            }
            ioc.stop();
        });
        ioc.run();
    } catch (const std::exception& e) {
        std::fprintf(stderr, "bench_workflow_runs: %s\n", e.what());
        return 1;
    }
    return rc;
}
