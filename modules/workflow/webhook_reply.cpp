#include "modules/workflow/webhook_reply.hpp"

#include <boost/json/serialize.hpp>

namespace arclight::workflow {

HttpResponse to_http_response(WebhookReply reply) {
    HttpResponse resp;
    resp.status = reply.status;
    resp.headers = std::move(reply.headers);
    const char* default_type = "text/plain; charset=utf-8";
    if (auto* text = std::get_if<std::string>(&reply.body)) {
        resp.body = std::move(*text);
    } else if (auto* v = std::get_if<boost::json::value>(&reply.body)) {
        resp.body = boost::json::serialize(*v);
        default_type = "application/json";
    }
    resp.content_type = reply.content_type ? std::move(*reply.content_type) : std::string(default_type);
    return resp;
}

}  // namespace arclight::workflow
