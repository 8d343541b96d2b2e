#include "modules/workflow/webhook_reply.hpp"

#include <boost/json/serialize.hpp>

namespace arclight::workflow {

HttpResponse to_http_response(WebhookReply reply) {
    HttpResponse resp;
    resp.status = reply.status;
    resp.content_type = sent_content_type(reply);
    resp.headers = std::move(reply.headers);
    if (auto* text = std::get_if<std::string>(&reply.body)) {
        resp.body = std::move(*text);
    } else if (auto* v = std::get_if<boost::json::value>(&reply.body)) {
        resp.body = boost::json::serialize(*v);
    }
    return resp;
}

}  // namespace arclight::workflow
