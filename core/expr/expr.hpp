#pragma once
// The workflow expression language: `{{ ... }}` templates in task configs and `when` conditions.
// Documented in docs/workflows.md. Evaluation is pure (no side effects, no loops, bounded by the
// expression's size), so it is safe on any input.
//
//   path        input.items[0].name   tasks.fetch.output["content-type"]   trigger.body
//   literals    42  -1.5  "text"  'text'  true  false  null
//   operators   == != < <= > >=   && || !   + (numbers; strings concatenate)  - * / %   ( )
//   functions   len(x)  string(x)  number(x)  exists(x)  lower(s)  upper(s)  json(x)
//
// Missing object keys evaluate to null; reading a member or index of a non-object/non-array
// (null.x, 5[0]) is an error. Errors are ExprError, whose what() names the expression.
#include <boost/json/value.hpp>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace arclight::expr {

/// A syntax or evaluation error; `expression` is the source text of the {{ }} part.
class ExprError : public std::runtime_error {
public:
    ExprError(std::string expression, const std::string& message)
        : std::runtime_error("in {{ " + expression + " }}: " + message), expression_(std::move(expression)) {}
    const std::string& expression() const noexcept { return expression_; }
private:
    std::string expression_;
};

/// Where names resolve: a root identifier (input, trigger, tasks, run, item, index, ...) maps to a
/// JSON value. nullptr = unknown name (an evaluation error naming it).
class Scope {
public:
    virtual ~Scope() = default;
    virtual const boost::json::value* lookup(std::string_view root) const = 0;
};

/// A Scope over the keys of one JSON object.
class ObjectScope final : public Scope {
public:
    explicit ObjectScope(const boost::json::object& o) : o_(o) {}
    const boost::json::value* lookup(std::string_view root) const override;
private:
    const boost::json::object& o_;
};

/// One compiled expression (the text between {{ and }}, or a bare expression).
class Expr {
public:
    /// Throws ExprError on a syntax error.
    static Expr parse(std::string_view text);
    boost::json::value eval(const Scope& scope) const;
    /// JavaScript-like truthiness of eval(): false, null, 0, "" , [] and {} are false.
    bool truthy(const Scope& scope) const;
    /// The root names and task ids (`tasks.<id>` / `tasks["id"]`) this expression reads.
    void references(std::vector<std::string>& roots, std::vector<std::string>& task_ids) const;
    const std::string& text() const noexcept { return text_; }
    struct Node;
private:
    friend class Template;  // splices values without copying them out first
    std::string text_;
    std::shared_ptr<const Node> root_;
};

/// A string that may contain {{ expr }} parts.
class Template {
public:
    /// Throws ExprError on a syntax error (unclosed {{, bad expression).
    static Template parse(std::string_view text);
    /// True when the text has no {{ }} part.
    bool is_literal() const noexcept;
    /// Exactly one {{ expr }} with only whitespace around it: the expression's JSON value.
    /// Otherwise a string: literal text with each part's value spliced in (strings as-is, null as
    /// "", other values as compact JSON).
    boost::json::value eval(const Scope& scope) const;
    void references(std::vector<std::string>& roots, std::vector<std::string>& task_ids) const;
private:
    struct Part {
        std::string literal;
        std::shared_ptr<Expr> expr;  ///< null for a literal part
    };
    std::vector<Part> parts_;
    bool single_ = false;
};

/// A JSON value whose strings are templates (a task's config). Compiled once per definition.
class ValueTemplate {
public:
    /// Compiles every string inside `v`, except the values of top-level keys in `raw_keys` (e.g.
    /// a script's "code"), which are kept as they are. Throws ExprError; `pointer` receives the
    /// JSON pointer (relative to v, e.g. "/body/items/0") of the string that failed.
    static ValueTemplate compile(const boost::json::value& v, const std::vector<std::string>& raw_keys,
                                 std::string* pointer = nullptr);
    /// The value with every template evaluated. Throws ExprError.
    boost::json::value eval(const Scope& scope) const;
    /// True when no string in the value has a {{ }} part (eval would return the value unchanged).
    bool is_literal() const noexcept;
    void references(std::vector<std::string>& roots, std::vector<std::string>& task_ids) const;
    /// What one template string reads: its JSON pointer (relative to the compiled value), the
    /// root names and the task ids (of `tasks.<id>`) in it. For error messages that point at the
    /// string itself.
    struct StringReferences {
        std::string pointer;
        std::vector<std::string> roots;
        std::vector<std::string> task_ids;
    };
    std::vector<StringReferences> references_by_string() const;
    struct Node;
private:
    std::shared_ptr<const Node> root_;
    boost::json::value literal_;
    bool literal_only_ = true;
};

}  // namespace arclight::expr
