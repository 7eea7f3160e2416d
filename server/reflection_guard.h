#ifndef WORKATO_CONNECTOR_SERVER_REFLECTION_GUARD_H_
#define WORKATO_CONNECTOR_SERVER_REFLECTION_GUARD_H_

#include "caller_tokens.h"
#include "grpcpp/support/server_interceptor.h"

namespace workato_connector {

// ReflectionGuardFactory makes server reflection (gRPC's own service, whose
// handlers we cannot change) require a caller token with at least the read
// scope. Other services are left alone: WorkatoConnector checks callers in its
// handlers (with ErrorInfo reasons) and health stays open for probes.
//
// A rejected call is ended at once from the interceptor with
// grpc_call_cancel_with_status: the client sees UNAUTHENTICATED or
// PERMISSION_DENIED with a message (gRPC sends no details on that path, so
// there is no ErrorInfo), the reflection handler then finds the call closed,
// and anything it still writes is dropped before it reaches the wire.
class ReflectionGuardFactory final : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  // `tokens` must outlive the server.
  explicit ReflectionGuardFactory(CallerTokens* tokens) : tokens_(tokens) {}

  grpc::experimental::Interceptor* CreateServerInterceptor(
      grpc::experimental::ServerRpcInfo* info) override;

 private:
  CallerTokens* tokens_;
};

}  // namespace workato_connector

#endif  // WORKATO_CONNECTOR_SERVER_REFLECTION_GUARD_H_
