#include "core/db/row.hpp"

#include <soci/soci.h>

#include <stdexcept>

namespace arclight {

long long row_int(const soci::row& r, std::size_t i) {
    if (r.get_indicator(i) == soci::i_null) return 0;
    switch (r.get_properties(i).get_data_type()) {
        case soci::dt_integer: return r.get<int>(i);
        case soci::dt_long_long: return r.get<long long>(i);
        case soci::dt_unsigned_long_long: return static_cast<long long>(r.get<unsigned long long>(i));
        case soci::dt_double: return static_cast<long long>(r.get<double>(i));
        case soci::dt_string: return std::stoll(r.get<std::string>(i));
        default: throw std::runtime_error("unexpected column type for an integer");
    }
}

double row_double(const soci::row& r, std::size_t i) {
    if (r.get_indicator(i) == soci::i_null) return 0;
    switch (r.get_properties(i).get_data_type()) {
        case soci::dt_double: return r.get<double>(i);
        case soci::dt_string: return std::stod(r.get<std::string>(i));
        default: return static_cast<double>(row_int(r, i));
    }
}

std::string row_text(const soci::row& r, std::size_t i) {
    if (r.get_indicator(i) == soci::i_null) return {};
    return r.get<std::string>(i);
}

}  // namespace arclight
