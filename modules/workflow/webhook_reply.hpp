#pragma once
// The webhook side of a synchronous run: a WebhookReply as the HTTP response the hook route sends.
#include "core/http/message.hpp"
#include "modules/workflow/reply.hpp"

namespace arclight::workflow {

HttpResponse to_http_response(WebhookReply reply);

}  // namespace arclight::workflow
