#include "reflection_guard.h"

#include <atomic>
#include <optional>
#include <string>

#include "absl/strings/match.h"
#include "errors.h"
#include "grpc/grpc.h"
#include "grpcpp/server_context.h"
#include "log.h"

namespace workato_connector {
namespace {

constexpr absl::string_view kReflectionPrefix = "/grpc.reflection.";

class ReflectionGuard final : public grpc::experimental::Interceptor {
 public:
  ReflectionGuard(grpc::experimental::ServerRpcInfo* info, CallerTokens* tokens)
      : info_(info), tokens_(tokens) {}

  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    using grpc::experimental::InterceptionHookPoints;
    if (methods->QueryInterceptionHookPoint(InterceptionHookPoints::POST_RECV_INITIAL_METADATA)) {
      Check(*methods->GetRecvInitialMetadata());
    }
    if (rejected_.load(std::memory_order_acquire) &&
        methods->QueryInterceptionHookPoint(InterceptionHookPoints::PRE_SEND_MESSAGE)) {
      // An empty buffer makes gRPC skip the send: nothing of the answer leaves.
      methods->GetSerializedSendMessage()->Clear();
    }
    methods->Proceed();
  }

 private:
  void Check(const std::multimap<grpc::string_ref, grpc::string_ref>& metadata) {
    std::optional<absl::string_view> authorization;
    if (auto it = metadata.find("authorization"); it != metadata.end()) {
      authorization = absl::string_view(it->second.data(), it->second.size());
    }
    const std::string method = info_->method();
    absl::StatusOr<std::string> caller =
        tokens_->Authorize(authorization, CallerScope::kRead, method);
    if (caller.ok()) {
      Log(LogLevel::kDebug, "reflection call", {{"rpc_method", method}, {"caller", *caller}});
      return;
    }
    rejected_.store(true, std::memory_order_release);
    const absl::Status& status = caller.status();
    LogFields fields = {{"rpc_method", method},
                        {"grpc_code", absl::StatusCodeToString(status.code())},
                        {"reason", ErrorReason(status)},
                        {"error", std::string(status.message())}};
    if (auto name = ErrorMetadataOf(status); name.count("caller") > 0) {
      fields.emplace_back("caller", name["caller"]);
    }
    Log(LogLevel::kWarning, "rpc finished", fields);
    const std::string message(status.message());
    grpc_call_cancel_with_status(info_->server_context()->c_call(),
                                 static_cast<grpc_status_code>(status.code()), message.c_str(),
                                 nullptr);
  }

  grpc::experimental::ServerRpcInfo* info_;
  CallerTokens* tokens_;
  std::atomic<bool> rejected_{false};
};

}  // namespace

grpc::experimental::Interceptor* ReflectionGuardFactory::CreateServerInterceptor(
    grpc::experimental::ServerRpcInfo* info) {
  if (tokens_ == nullptr || !absl::StartsWith(info->method(), kReflectionPrefix)) return nullptr;
  return new ReflectionGuard(info, tokens_);
}

}  // namespace workato_connector
