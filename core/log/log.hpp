#pragma once
// A small leveled logger. Lines are buffered and written by a background flusher so that a
// request's access-log line never costs the I/O thread a write(2).

#include <fmt/format.h>

#include <functional>
#include <string>
#include <string_view>

namespace arclight::log {

enum class Level { debug = 0, info = 1, warn = 2, error = 3, off = 4 };

/// Parses "debug" | "info" | "warn" | "error" | "off"; false on anything else.
bool parse_level(std::string_view text, Level& out);
void set_level(Level level);
Level level();
/// Writes one line: time, level, channel, message. Thread-safe.
void write(Level level, std::string_view channel, std::string_view message);
/// Test hook: receives every formatted line (may be called from any thread). Pass {} to remove.
void set_observer(std::function<void(std::string_view)> observer);
/// Flushes buffered lines (called at shutdown and by the background flusher).
void flush();

template <class... Args>
void info(std::string_view channel, fmt::format_string<Args...> f, Args&&... args) {
    if (level() <= Level::info) write(Level::info, channel, fmt::format(f, std::forward<Args>(args)...));
}
template <class... Args>
void warn(std::string_view channel, fmt::format_string<Args...> f, Args&&... args) {
    if (level() <= Level::warn) write(Level::warn, channel, fmt::format(f, std::forward<Args>(args)...));
}
template <class... Args>
void error(std::string_view channel, fmt::format_string<Args...> f, Args&&... args) {
    if (level() <= Level::error) write(Level::error, channel, fmt::format(f, std::forward<Args>(args)...));
}
template <class... Args>
void debug(std::string_view channel, fmt::format_string<Args...> f, Args&&... args) {
    if (level() <= Level::debug) write(Level::debug, channel, fmt::format(f, std::forward<Args>(args)...));
}

}  // namespace arclight::log
