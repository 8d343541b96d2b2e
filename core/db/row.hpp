#pragma once
// Reading SOCI rows portably: SQLite and PostgreSQL report integer columns with different types.
#include <string>

namespace soci {
class row;
}

namespace arclight {

/// The integer in column `i` whatever type the backend reports (int, long long, double, numeric text).
long long row_int(const soci::row& r, std::size_t i);
/// The number in column `i` (REAL/DOUBLE PRECISION, integer or numeric text); 0 for NULL.
double row_double(const soci::row& r, std::size_t i);
/// The text in column `i`; empty for NULL.
std::string row_text(const soci::row& r, std::size_t i);

}  // namespace arclight
