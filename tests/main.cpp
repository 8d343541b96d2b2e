#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include "core/lua/script_worker.hpp"
#include "tests/support/test_env.hpp"

#include <string_view>

int main(int argc, char** argv) {
    // The process-isolation tests use this binary (/proc/self/exe) as their script worker.
    if (argc >= 2 && std::string_view(argv[1]) == "script-worker") arclight::lua::script_worker_main(argc, argv);
    doctest::Context ctx;
    ctx.applyCommandLine(argc, argv);
    arclight::test::print_backend_banner();
    return ctx.run();
}
