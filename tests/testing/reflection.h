#ifndef WORKATO_CONNECTOR_TESTS_TESTING_REFLECTION_H_
#define WORKATO_CONNECTOR_TESTS_TESTING_REFLECTION_H_

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "google/protobuf/unknown_field_set.h"
#include "grpcpp/grpcpp.h"
#include "grpcpp/impl/codegen/client_unary_call.h"

namespace workato_connector::testing {

// Reflection, spoken over raw bytes: the reflection protos are compiled into
// libgrpc++_reflection without headers, so tests encode requests by hand and
// decode answers as unknown fields.

// LengthDelimited returns the values of a length-delimited field.
inline std::vector<std::string> LengthDelimited(const std::string& bytes, int field) {
  google::protobuf::UnknownFieldSet fields;
  std::vector<std::string> out;
  if (!fields.ParseFromString(bytes)) return out;
  for (int i = 0; i < fields.field_count(); ++i) {
    const auto& f = fields.field(i);
    if (f.number() == field && f.type() == google::protobuf::UnknownField::TYPE_LENGTH_DELIMITED) {
      out.push_back(f.length_delimited());
    }
  }
  return out;
}

struct ReflectionResult {
  grpc::Status status;
  // The first answer's bytes ("" when none came).
  std::string answer;
};

// ReflectionCall sends one ServerReflectionRequest with `request_field` set
// to `value` (7 = list_services, 4 = file_containing_symbol), with
// "authorization: Bearer <bearer>" unless `bearer` is empty.
inline ReflectionResult ReflectionCall(grpc::Channel* channel, int request_field,
                                       const std::string& value, const std::string& bearer = "") {
  google::protobuf::UnknownFieldSet request;
  request.AddLengthDelimited(request_field, value);
  std::string bytes;
  request.SerializeToString(&bytes);
  grpc::Slice slice(bytes);
  grpc::ByteBuffer send(&slice, 1);
  grpc::internal::RpcMethod method("/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
                                   grpc::internal::RpcMethod::BIDI_STREAMING);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  if (!bearer.empty()) context.AddMetadata("authorization", "Bearer " + bearer);
  std::unique_ptr<grpc::ClientReaderWriter<grpc::ByteBuffer, grpc::ByteBuffer>> stream(
      grpc::internal::ClientReaderWriterFactory<grpc::ByteBuffer, grpc::ByteBuffer>::Create(
          channel, method, &context));
  ReflectionResult result;
  stream->Write(send);
  stream->WritesDone();
  grpc::ByteBuffer received;
  if (stream->Read(&received)) {
    std::vector<grpc::Slice> slices;
    if (received.Dump(&slices).ok()) {
      for (const auto& s : slices) {
        result.answer.append(reinterpret_cast<const char*>(s.begin()), s.size());
      }
    }
  }
  result.status = stream->Finish();
  return result;
}

}  // namespace workato_connector::testing

#endif  // WORKATO_CONNECTOR_TESTS_TESTING_REFLECTION_H_
