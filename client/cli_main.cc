// workato-connector-cli: a command-line client for the WorkatoConnector API.
//
//   workato-connector-cli [flags] connect --data_center=US [--token_file=F]
//   workato-connector-cli [flags] connections | get ID | sync ID | users ID | disconnect ID
//
// The API token is read from --token_file, else WORKATO_API_TOKEN, else
// standard input; never from a command-line argument (argv is visible to
// every user of the machine through ps). The same holds for the caller token
// (--caller_token_file, else WORKATO_CONNECTOR_CALLER_TOKEN), which is sent as
// "authorization: Bearer <token>" on every call.
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <iterator>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "absl/time/time.h"
#include "google/protobuf/util/json_util.h"
#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "grpcpp/grpcpp.h"
#include "workato/connector/v1/connector.grpc.pb.h"

ABSL_FLAG(std::string, server, "localhost:50051", "Address of workato-connector-server.");
ABSL_FLAG(bool, json, false, "Print responses as JSON instead of tables.");
ABSL_FLAG(absl::Duration, timeout, absl::Minutes(2), "Deadline for each call.");
ABSL_FLAG(std::string, data_center, "", "connect: US, EU, JP, SG, AU, IL or DEVELOPER_SANDBOX.");
ABSL_FLAG(std::string, token_file, "",
          "connect: file holding the API token (else $WORKATO_API_TOKEN, else stdin).");
ABSL_FLAG(std::string, display_name, "", "connect: a name for the connection.");
ABSL_FLAG(bool, show_removed, false, "users: include users no longer in the workspace.");
ABSL_FLAG(int, page_size, 500, "users, connections: users fetched per call.");
ABSL_FLAG(std::string, tls_ca_file, "",
          "PEM CA bundle that signed the server's certificate; turns TLS on.");
ABSL_FLAG(bool, tls, false, "Use TLS, trusting the system's CAs (implied by the other tls flags).");
ABSL_FLAG(std::string, tls_cert_file, "", "mTLS: this client's PEM certificate chain.");
ABSL_FLAG(std::string, tls_key_file, "", "mTLS: the PEM private key of --tls_cert_file.");
ABSL_FLAG(std::string, tls_server_name, "",
          "TLS: the name to verify in the server's certificate, when it differs from the host "
          "in --server.");
ABSL_FLAG(std::string, caller_token_file, "",
          "File holding this caller's token for the server (else "
          "$WORKATO_CONNECTOR_CALLER_TOKEN; none when both are empty).");

namespace {

namespace v1 = ::workato::connector::v1;
using Stub = v1::WorkatoConnector::Stub;

constexpr char kUsage[] =
    "usage: workato-connector-cli [--server=HOST:PORT] [--json] [--tls_ca_file=F]\n"
    "         [--tls_cert_file=F --tls_key_file=F] [--caller_token_file=F] COMMAND [ARGS]\n"
    "commands:\n"
    "  connect --data_center=DC [--token_file=F] [--display_name=N]\n"
    "  connections\n"
    "  get CONNECTION_ID\n"
    "  sync CONNECTION_ID\n"
    "  users CONNECTION_ID [--show_removed]\n"
    "  runs CONNECTION_ID\n"
    "  health   (grpc.health.v1 Check: prints SERVING, exits 0 only when serving)\n"
    "  disconnect CONNECTION_ID\n";

// The caller token for the server, read once in main(); "" = none.
std::string& CallerToken() {
  static std::string* token = new std::string();
  return *token;
}

// SetDeadline prepares every call: its deadline and the caller's credentials.
void SetDeadline(grpc::ClientContext* context) {
  context->set_deadline(std::chrono::system_clock::now() +
                        absl::ToChronoMilliseconds(absl::GetFlag(FLAGS_timeout)));
  if (!CallerToken().empty()) context->AddMetadata("authorization", "Bearer " + CallerToken());
}

absl::StatusOr<std::string> ReadFile(absl::string_view flag, const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read --", flag, " ", path));
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// ReadCallerToken reads the caller token from --caller_token_file, else the
// environment; never from an argument.
absl::StatusOr<std::string> ReadCallerToken() {
  std::string token;
  const std::string file = absl::GetFlag(FLAGS_caller_token_file);
  if (!file.empty()) {
    absl::StatusOr<std::string> text = ReadFile("caller_token_file", file);
    if (!text.ok()) return text.status();
    token = *std::move(text);
  } else if (const char* env = std::getenv("WORKATO_CONNECTOR_CALLER_TOKEN"); env != nullptr) {
    token = env;
  }
  return std::string(absl::StripAsciiWhitespace(token));
}

// MakeChannel opens plaintext, TLS or mutual TLS to --server.
absl::StatusOr<std::shared_ptr<grpc::Channel>> MakeChannel() {
  const std::string ca_file = absl::GetFlag(FLAGS_tls_ca_file);
  const std::string cert_file = absl::GetFlag(FLAGS_tls_cert_file);
  const std::string key_file = absl::GetFlag(FLAGS_tls_key_file);
  const std::string server_name = absl::GetFlag(FLAGS_tls_server_name);
  grpc::ChannelArguments args;
  if (!absl::GetFlag(FLAGS_tls) && ca_file.empty() && cert_file.empty() && key_file.empty() &&
      server_name.empty()) {
    return grpc::CreateCustomChannel(absl::GetFlag(FLAGS_server),
                                     grpc::InsecureChannelCredentials(), args);
  }
  if (cert_file.empty() != key_file.empty()) {
    return absl::InvalidArgumentError("--tls_cert_file and --tls_key_file go together");
  }
  grpc::SslCredentialsOptions ssl;
  if (!ca_file.empty()) {
    absl::StatusOr<std::string> ca = ReadFile("tls_ca_file", ca_file);
    if (!ca.ok()) return ca.status();
    ssl.pem_root_certs = *std::move(ca);
  }
  if (!cert_file.empty()) {
    absl::StatusOr<std::string> cert = ReadFile("tls_cert_file", cert_file);
    if (!cert.ok()) return cert.status();
    absl::StatusOr<std::string> key = ReadFile("tls_key_file", key_file);
    if (!key.ok()) return key.status();
    ssl.pem_cert_chain = *std::move(cert);
    ssl.pem_private_key = *std::move(key);
  }
  if (!server_name.empty()) args.SetSslTargetNameOverride(server_name);
  return grpc::CreateCustomChannel(absl::GetFlag(FLAGS_server), grpc::SslCredentials(ssl), args);
}

// ReportError prints a failed call as "error: CODE (REASON): message".
int ReportError(const grpc::Status& status) {
  std::string reason;
  google::rpc::Status details;
  if (!status.error_details().empty() && details.ParseFromString(status.error_details())) {
    for (const auto& any : details.details()) {
      google::rpc::ErrorInfo info;
      if (any.UnpackTo(&info)) reason = info.reason();
    }
  }
  static const char* const kCodes[] = {"OK",
                                       "CANCELLED",
                                       "UNKNOWN",
                                       "INVALID_ARGUMENT",
                                       "DEADLINE_EXCEEDED",
                                       "NOT_FOUND",
                                       "ALREADY_EXISTS",
                                       "PERMISSION_DENIED",
                                       "RESOURCE_EXHAUSTED",
                                       "FAILED_PRECONDITION",
                                       "ABORTED",
                                       "OUT_OF_RANGE",
                                       "UNIMPLEMENTED",
                                       "INTERNAL",
                                       "UNAVAILABLE",
                                       "DATA_LOSS",
                                       "UNAUTHENTICATED"};
  int code = static_cast<int>(status.error_code());
  std::string name = code >= 0 && code <= 16 ? kCodes[code] : absl::StrCat(code);
  std::cerr << "error: " << name << (reason.empty() ? "" : absl::StrCat(" (", reason, ")")) << ": "
            << status.error_message() << "\n";
  return 1;
}

std::string ToJson(const google::protobuf::Message& message) {
  std::string json;
  google::protobuf::util::JsonPrintOptions options;
  options.add_whitespace = true;
  options.preserve_proto_field_names = true;
  (void)google::protobuf::util::MessageToJsonString(message, &json, options);
  return json;
}

std::string FormatTime(const google::protobuf::Timestamp& t) {
  if (t.seconds() == 0 && t.nanos() == 0) return "-";
  return absl::FormatTime("%Y-%m-%d %H:%M:%SZ", absl::FromUnixSeconds(t.seconds()),
                          absl::UTCTimeZone());
}

std::string ShortName(const std::string& enum_name, absl::string_view prefix) {
  return std::string(absl::StripPrefix(enum_name, prefix));
}

// DisplayWidth counts UTF-8 code points, so that names in any script line up.
size_t DisplayWidth(const std::string& text) {
  size_t width = 0;
  for (char c : text) {
    if ((static_cast<unsigned char>(c) & 0xC0) != 0x80) ++width;
  }
  return width;
}

// PrintTable prints rows with columns padded to their widest cell.
void PrintTable(const std::vector<std::string>& header,
                const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> widths(header.size(), 0);
  auto measure = [&](const std::vector<std::string>& row) {
    for (size_t i = 0; i < row.size(); ++i) widths[i] = std::max(widths[i], DisplayWidth(row[i]));
  };
  measure(header);
  for (const auto& row : rows) measure(row);
  auto print = [&](const std::vector<std::string>& row) {
    std::string line;
    for (size_t i = 0; i < row.size(); ++i) {
      line += row[i];
      if (i + 1 < row.size()) line += std::string(widths[i] - DisplayWidth(row[i]) + 2, ' ');
    }
    std::cout << line << "\n";
  };
  print(header);
  for (const auto& row : rows) print(row);
}

std::string SyncSummary(const v1::SyncRun& run) {
  if (run.id().empty()) return "never";
  return absl::StrFormat("%s %s (%d active, +%d, ~%d, -%d)",
                         ShortName(v1::SyncRun::State_Name(run.state()), ""),
                         FormatTime(run.end_time()), run.active_user_count(), run.added_count(),
                         run.updated_count(), run.removed_count());
}

void PrintConnections(const std::vector<v1::Connection>& connections) {
  std::vector<std::vector<std::string>> rows;
  for (const auto& c : connections) {
    rows.push_back({c.id(), ShortName(v1::DataCenter_Name(c.data_center()), "DATA_CENTER_"),
                    absl::StrCat(c.workspace_id()), c.display_name(),
                    v1::Connection::State_Name(c.state()), SyncSummary(c.last_sync())});
  }
  PrintTable({"ID", "DATA CENTER", "WORKSPACE", "NAME", "STATE", "LAST SYNC"}, rows);
}

absl::StatusOr<std::string> ReadToken() {
  std::string token;
  const std::string file = absl::GetFlag(FLAGS_token_file);
  if (!file.empty()) {
    std::ifstream in(file);
    if (!in) return absl::NotFoundError(absl::StrCat("cannot read --token_file ", file));
    token.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  } else if (const char* env = std::getenv("WORKATO_API_TOKEN"); env != nullptr && *env != '\0') {
    token = env;
  } else {
    std::cerr << "reading the API token from standard input...\n";
    token.assign(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
  }
  // Files and pipes end with a newline that is not part of the token.
  return std::string(absl::StripAsciiWhitespace(token));
}

int Connect(Stub& stub) {
  v1::ConnectRequest request;
  std::string dc = absl::AsciiStrToUpper(absl::GetFlag(FLAGS_data_center));
  v1::DataCenter value;
  if (!v1::DataCenter_Parse(absl::StrCat("DATA_CENTER_", dc), &value) &&
      !v1::DataCenter_Parse(dc, &value)) {
    std::cerr << "error: --data_center must be one of US, EU, JP, SG, AU, IL, "
                 "DEVELOPER_SANDBOX\n";
    return 2;
  }
  request.set_data_center(value);
  absl::StatusOr<std::string> token = ReadToken();
  if (!token.ok()) {
    std::cerr << "error: " << token.status().message() << "\n";
    return 2;
  }
  request.set_api_token(*token);
  request.set_display_name(absl::GetFlag(FLAGS_display_name));
  grpc::ClientContext context;
  SetDeadline(&context);
  v1::Connection response;
  grpc::Status status = stub.Connect(&context, request, &response);
  if (!status.ok()) return ReportError(status);
  if (absl::GetFlag(FLAGS_json)) {
    std::cout << ToJson(response);
  } else {
    PrintConnections({response});
  }
  return 0;
}

// FetchAllPages calls `call` page after page (AIP-158), handing each page to
// `merge`, until the server returns no next_page_token.
template <typename Response, typename Request, typename Call, typename Merge>
grpc::Status FetchAllPages(Request request, Call call, Merge merge) {
  Response page;
  do {
    grpc::ClientContext context;
    SetDeadline(&context);
    page.Clear();
    grpc::Status status = call(&context, request, &page);
    if (!status.ok()) return status;
    merge(page);
    request.set_page_token(page.next_page_token());
  } while (!request.page_token().empty());
  return grpc::Status::OK;
}

int ListConnections(Stub& stub) {
  std::vector<v1::Connection> all;
  v1::ListConnectionsRequest request;
  request.set_page_size(absl::GetFlag(FLAGS_page_size));
  grpc::Status status = FetchAllPages<v1::ListConnectionsResponse>(
      request,
      [&](grpc::ClientContext* context, const v1::ListConnectionsRequest& r,
          v1::ListConnectionsResponse* response) {
        return stub.ListConnections(context, r, response);
      },
      [&](v1::ListConnectionsResponse& page) {
        all.insert(all.end(), page.connections().begin(), page.connections().end());
      });
  if (!status.ok()) return ReportError(status);
  if (absl::GetFlag(FLAGS_json)) {
    v1::ListConnectionsResponse merged;
    for (auto& c : all) *merged.add_connections() = c;
    merged.set_total_size(static_cast<int32_t>(all.size()));
    std::cout << ToJson(merged);
  } else {
    PrintConnections(all);
  }
  return 0;
}

int GetConnection(Stub& stub, const std::string& id) {
  v1::GetConnectionRequest request;
  request.set_connection_id(id);
  grpc::ClientContext context;
  SetDeadline(&context);
  v1::Connection response;
  grpc::Status status = stub.GetConnection(&context, request, &response);
  if (!status.ok()) return ReportError(status);
  if (absl::GetFlag(FLAGS_json)) {
    std::cout << ToJson(response);
  } else {
    PrintConnections({response});
  }
  return 0;
}

int Sync(Stub& stub, const std::string& id) {
  v1::SyncRequest request;
  request.set_connection_id(id);
  grpc::ClientContext context;
  SetDeadline(&context);
  v1::SyncRun response;
  grpc::Status status = stub.Sync(&context, request, &response);
  if (!status.ok()) return ReportError(status);
  if (absl::GetFlag(FLAGS_json)) {
    std::cout << ToJson(response);
  } else {
    std::cout << "sync " << response.id() << ": " << SyncSummary(response) << "\n";
  }
  return 0;
}

std::string RolesOf(const v1::User& user) {
  std::vector<std::string> roles;
  for (const auto& role : user.roles())
    roles.push_back(absl::StrCat(role.environment(), "=", role.role_name()));
  return roles.empty() ? "-" : absl::StrJoin(roles, ", ");
}

int ListUsers(Stub& stub, const std::string& id) {
  v1::ListUsersRequest request;
  request.set_connection_id(id);
  request.set_show_removed(absl::GetFlag(FLAGS_show_removed));
  request.set_page_size(absl::GetFlag(FLAGS_page_size));
  v1::ListUsersResponse merged;
  grpc::Status status = FetchAllPages<v1::ListUsersResponse>(
      request,
      [&](grpc::ClientContext* context, const v1::ListUsersRequest& r,
          v1::ListUsersResponse* response) { return stub.ListUsers(context, r, response); },
      [&](v1::ListUsersResponse& page) {
        for (auto& user : *page.mutable_users()) *merged.add_users() = std::move(user);
        merged.set_total_size(page.total_size());
      });
  if (!status.ok()) return ReportError(status);
  if (absl::GetFlag(FLAGS_json)) {
    std::cout << ToJson(merged);
    return 0;
  }
  std::vector<std::vector<std::string>> rows;
  for (const auto& user : merged.users()) {
    rows.push_back({absl::StrCat(user.id()), user.email(), user.name(),
                    v1::User::State_Name(user.state()), FormatTime(user.last_visit_time()),
                    RolesOf(user),
                    user.licenses().empty() ? "-" : absl::StrJoin(user.licenses(), ",")});
  }
  PrintTable({"ID", "EMAIL", "NAME", "STATUS", "LAST VISIT", "ROLES", "LICENSE"}, rows);
  std::cout << merged.users_size() << " users\n";
  return 0;
}

int ListSyncRuns(Stub& stub, const std::string& id) {
  v1::ListSyncRunsRequest request;
  request.set_connection_id(id);
  request.set_page_size(absl::GetFlag(FLAGS_page_size));
  v1::ListSyncRunsResponse merged;
  grpc::Status status = FetchAllPages<v1::ListSyncRunsResponse>(
      request,
      [&](grpc::ClientContext* context, const v1::ListSyncRunsRequest& r,
          v1::ListSyncRunsResponse* response) { return stub.ListSyncRuns(context, r, response); },
      [&](v1::ListSyncRunsResponse& page) {
        for (auto& run : *page.mutable_sync_runs()) *merged.add_sync_runs() = std::move(run);
      });
  if (!status.ok()) return ReportError(status);
  if (absl::GetFlag(FLAGS_json)) {
    std::cout << ToJson(merged);
    return 0;
  }
  std::vector<std::vector<std::string>> rows;
  for (const auto& run : merged.sync_runs()) {
    rows.push_back(
        {run.id(), v1::SyncRun::State_Name(run.state()), FormatTime(run.start_time()),
         FormatTime(run.end_time()), absl::StrCat(run.active_user_count()),
         absl::StrCat("+", run.added_count(), " ~", run.updated_count(), " -", run.removed_count()),
         run.error_reason().empty() ? "-" : run.error_reason()});
  }
  PrintTable({"RUN", "STATE", "STARTED", "ENDED", "ACTIVE", "CHANGES", "ERROR"}, rows);
  return 0;
}

int Health(const std::shared_ptr<grpc::Channel>& channel) {
  auto health = grpc::health::v1::Health::NewStub(channel);
  grpc::ClientContext context;
  SetDeadline(&context);
  grpc::health::v1::HealthCheckRequest request;
  grpc::health::v1::HealthCheckResponse response;
  grpc::Status status = health->Check(&context, request, &response);
  if (!status.ok()) return ReportError(status);
  std::cout << grpc::health::v1::HealthCheckResponse::ServingStatus_Name(response.status()) << "\n";
  return response.status() == grpc::health::v1::HealthCheckResponse::SERVING ? 0 : 1;
}

int Disconnect(Stub& stub, const std::string& id) {
  v1::DeleteConnectionRequest request;
  request.set_connection_id(id);
  grpc::ClientContext context;
  SetDeadline(&context);
  v1::DeleteConnectionResponse response;
  grpc::Status status = stub.DeleteConnection(&context, request, &response);
  if (!status.ok()) return ReportError(status);
  if (!absl::GetFlag(FLAGS_json))
    std::cout << "deleted " << id << "\n";
  else
    std::cout << "{}\n";
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(kUsage);
  std::vector<char*> args = absl::ParseCommandLine(argc, argv);
  if (args.size() < 2) {
    std::cerr << kUsage;
    return 2;
  }
  const std::string command = args[1];
  const std::string id = args.size() > 2 ? args[2] : "";
  absl::StatusOr<std::string> caller_token = ReadCallerToken();
  if (!caller_token.ok()) {
    std::cerr << "error: " << caller_token.status().message() << "\n";
    return 2;
  }
  CallerToken() = *std::move(caller_token);
  absl::StatusOr<std::shared_ptr<grpc::Channel>> made = MakeChannel();
  if (!made.ok()) {
    std::cerr << "error: " << made.status().message() << "\n";
    return 2;
  }
  std::shared_ptr<grpc::Channel> channel = *std::move(made);
  auto stub = v1::WorkatoConnector::NewStub(channel);
  auto need_id = [&]() {
    if (id.empty()) std::cerr << "error: " << command << " needs a CONNECTION_ID\n" << kUsage;
    return !id.empty();
  };
  if (command == "connect") return Connect(*stub);
  if (command == "health") return Health(channel);
  if (command == "connections") return ListConnections(*stub);
  if (command == "get") return need_id() ? GetConnection(*stub, id) : 2;
  if (command == "sync") return need_id() ? Sync(*stub, id) : 2;
  if (command == "users") return need_id() ? ListUsers(*stub, id) : 2;
  if (command == "runs") return need_id() ? ListSyncRuns(*stub, id) : 2;
  if (command == "disconnect") return need_id() ? Disconnect(*stub, id) : 2;
  std::cerr << "error: unknown command \"" << command << "\"\n" << kUsage;
  return 2;
}
