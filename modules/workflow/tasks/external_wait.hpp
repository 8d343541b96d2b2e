#pragma once
// What approval and wait_for_event share: the task waits (optionally up to timeout_seconds) for
// a decision from outside the run, delivered through Engine::decide.
#include "modules/workflow/tasks/control_task.hpp"

namespace arclight::workflow {

class ExternalWait : public ControlTask {
public:
    void start(Engine::Impl& e, const RunPtr& r, int k) const override;
    void resume_waiting(Engine::Impl& e, const RunPtr& r, int k) const override;
    void on_due(Engine::Impl& e, const RunPtr& r, int k) const override;
    bool waits_outside() const override { return true; }

protected:
    /// Checks the evaluated config; an error message fails the attempt.
    virtual std::string check_input(const boost::json::object& /*cfg*/) const { return {}; }
    /// The wait is recorded (or reloaded): start listening for what decides it.
    virtual void listen(Engine::Impl& /*e*/, const Run& /*run*/, int /*k*/) const {}
    /// The wait ended without a decision.
    virtual void unlisten(Engine::Impl& /*e*/, const Run& /*run*/, int /*k*/) const {}
    /// "an approval", "the event": what timed out.
    virtual const char* awaited() const = 0;
};

}  // namespace arclight::workflow
