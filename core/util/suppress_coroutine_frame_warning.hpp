#pragma once
// Include (first, before other code) in a source file whose coroutines trip GCC 12's false
// -Wmismatched-new-delete: it reports the frame of some asio::awaitable coroutines as allocated
// with one operator new and freed with an unmatched delete, but awaitable_frame_base's operator
// new/delete are a matching pair. The pragma applies to the rest of the including file.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif
