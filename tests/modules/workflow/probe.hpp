#pragma once
// A task type for definition tests: "probe", whose config must match the schema it is given.
#include "modules/workflow/api.hpp"

#include <boost/json.hpp>

#include <string>

namespace arclight::test {

class ProbeType final : public workflow::TaskType {
public:
    explicit ProbeType(std::string schema = R"({"type":"object"})") : schema_(std::move(schema)) {}
    std::string name() const override { return "probe"; }
    std::string description() const override { return "test type"; }
    boost::json::value config_schema() const override { return boost::json::parse(schema_); }

private:
    std::string schema_;
};

}  // namespace arclight::test
