// Caller security end to end: TLS and mutual TLS on the gRPC port, caller
// tokens with their scopes on every RPC, reflection and health, reloading of
// certificates and of the tokens file, and the safe-by-default start rule.
// Certificates are made here with the openssl CLI in a temporary directory,
// so no key is ever committed.
#include <stdlib.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "caller_tokens.h"
#include "connector_server.h"
#include "fake_workato/fake_workato.h"
#include "gmock/gmock.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "testing/grpc_status.h"
#include "testing/reflection.h"
#include "transport_security.h"
#include "workato/connector/v1/connector.grpc.pb.h"

namespace workato_connector {
namespace {

namespace v1 = ::workato::connector::v1;
using testing::FakeWorkato;
using testing::FakeWorkspace;
using testing::GenerateCollaborators;
using ::testing::HasSubstr;
using testing::LengthDelimited;
using ::testing::Not;
using testing::ReasonOf;
using testing::ReflectionCall;

constexpr char kWorkatoToken[] = "wrk-security-test-token-0123";
// Caller tokens: long enough for the parser, distinctive for log checks.
constexpr char kAdminToken[] = "admin-token-7f3a9c1e5b2d4f60";
constexpr char kReaderToken[] = "reader-token-2b8e6d4a0c9f1e37";
constexpr char kLateToken[] = "late-token-5d1c3b7a9e2f4086";

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

void WriteFile(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
}

// Replaced the way Kubernetes and careful operators do it: a new file renamed
// over the old one, so that a reader never sees half of it.
void ReplaceFile(const std::string& path, const std::string& text) {
  const std::string temp = path + ".new";
  WriteFile(temp, text);
  std::filesystem::rename(temp, path);
}

// Certificates for one test suite, made once with the openssl CLI.
class Pki {
 public:
  Pki() {
    char pattern[] = "/tmp/wc-security-XXXXXX";
    const char* made = mkdtemp(pattern);
    dir_ = made != nullptr ? made : "";
  }
  ~Pki() {
    std::error_code ignored;
    if (!dir_.empty()) std::filesystem::remove_all(dir_, ignored);
  }

  const std::string& dir() const { return dir_; }
  std::string Path(const std::string& name, const std::string& ext) const {
    return absl::StrCat(dir_, "/", name, ".", ext);
  }

  // MakeCa creates NAME.pem and NAME.key, a self-signed CA.
  [[nodiscard]] bool MakeCa(const std::string& name) const {
    return Run(
        absl::StrCat("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 "
                     "-nodes -days 2 -subj '/CN=",
                     name, " test CA' -addext 'basicConstraints=critical,CA:TRUE' ",
                     "-addext 'keyUsage=critical,keyCertSign,cRLSign' -keyout ", Path(name, "key"),
                     " -out ", Path(name, "pem")));
  }

  // MakeLeaf creates NAME.pem and NAME.key signed by CA, for a server
  // (127.0.0.1 and localhost) or a client.
  [[nodiscard]] bool MakeLeaf(const std::string& name, const std::string& ca, bool server) const {
    WriteFile(Path(name, "ext"),
              server ? "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\n"
                       "extendedKeyUsage=serverAuth\nsubjectAltName=IP:127.0.0.1,DNS:localhost\n"
                     : "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\n"
                       "extendedKeyUsage=clientAuth\n");
    return Run(absl::StrCat("openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 "
                            "-nodes -subj '/CN=",
                            name, "' -keyout ", Path(name, "key"), " -out ", Path(name, "csr"))) &&
           Run(absl::StrCat("openssl x509 -req -days 2 -set_serial 0x", ++serial_, "0", getpid(),
                            " -in ", Path(name, "csr"), " -CA ", Path(ca, "pem"), " -CAkey ",
                            Path(ca, "key"), " -extfile ", Path(name, "ext"), " -out ",
                            Path(name, "pem")));
  }

 private:
  static bool Run(const std::string& command) {
    const std::string quiet = command + " >/dev/null 2>&1";
    return std::system(quiet.c_str()) == 0;
  }

  std::string dir_;
  mutable int serial_ = 0;
};

grpc::SslCredentialsOptions Ssl(const std::string& root_pem, const std::string& cert_pem = "",
                                const std::string& key_pem = "") {
  grpc::SslCredentialsOptions ssl;
  ssl.pem_root_certs = root_pem;
  ssl.pem_cert_chain = cert_pem;
  ssl.pem_private_key = key_pem;
  return ssl;
}

std::unique_ptr<grpc::ClientContext> Context(const std::string& bearer = "",
                                             absl::Duration timeout = absl::Seconds(20)) {
  auto context = std::make_unique<grpc::ClientContext>();
  context->set_deadline(std::chrono::system_clock::now() + absl::ToChronoMilliseconds(timeout));
  if (!bearer.empty()) context->AddMetadata("authorization", absl::StrCat("Bearer ", bearer));
  return context;
}

class SecurityTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    pki_ = new Pki();
    ASSERT_FALSE(pki_->dir().empty());
    ASSERT_TRUE(pki_->MakeCa("ca"));
    ASSERT_TRUE(pki_->MakeCa("other_ca"));
    ASSERT_TRUE(pki_->MakeLeaf("server", "ca", true));
    ASSERT_TRUE(pki_->MakeLeaf("server_by_other", "other_ca", true));
    ASSERT_TRUE(pki_->MakeLeaf("client", "ca", false));
    ASSERT_TRUE(pki_->MakeLeaf("client_by_other", "other_ca", false));
  }
  static void TearDownTestSuite() {
    delete pki_;
    pki_ = nullptr;
  }

  void SetUp() override {
    FakeWorkspace ws;
    ws.id = 4242;
    ws.name = "Secure Co";
    ws.collaborators = GenerateCollaborators(6, 3);
    workato_.SetWorkspace(kWorkatoToken, ws);
    ASSERT_GT(workato_.Start(), 0);
    char pattern[] = "/tmp/wc-security-case-XXXXXX";
    const char* made = mkdtemp(pattern);
    ASSERT_NE(made, nullptr);
    dir_ = made;
  }

  void TearDown() override {
    server_.reset();
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }

  ServerOptions Options() const {
    ServerOptions options;
    options.listen = "127.0.0.1:0";
    options.workato_url_overrides = absl::StrCat("US=", workato_.BaseUrl());
    options.executor_threads = 2;
    options.caller_tokens_reload_interval = absl::Milliseconds(200);
    options.tls.refresh_interval = absl::Seconds(1);
    return options;
  }

  // Copies a generated certificate and key where a server reads them.
  void InstallServerCert(const std::string& name) {
    ReplaceFile(ServerCertFile(), ReadAll(pki_->Path(name, "pem")));
    ReplaceFile(ServerKeyFile(), ReadAll(pki_->Path(name, "key")));
  }
  std::string ServerCertFile() const { return dir_ + "/tls.crt"; }
  std::string ServerKeyFile() const { return dir_ + "/tls.key"; }
  std::string CallersFile() const { return dir_ + "/callers.txt"; }

  void Start(ServerOptions options) {
    auto server = ConnectorServer::Start(std::move(options));
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
  }

  std::string Target() const { return absl::StrCat("127.0.0.1:", server_->port()); }

  // A channel of its own (own connection), so that each one handshakes anew.
  std::shared_ptr<grpc::Channel> Channel(std::shared_ptr<grpc::ChannelCredentials> credentials) {
    grpc::ChannelArguments args;
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
    return grpc::CreateCustomChannel(Target(), std::move(credentials), args);
  }
  std::shared_ptr<grpc::Channel> Plaintext() { return Channel(grpc::InsecureChannelCredentials()); }
  std::shared_ptr<grpc::Channel> Tls(const grpc::SslCredentialsOptions& ssl) {
    return Channel(grpc::SslCredentials(ssl));
  }
  static std::string Pem(const std::string& name) { return ReadAll(pki_->Path(name, "pem")); }
  static std::string Key(const std::string& name) { return ReadAll(pki_->Path(name, "key")); }

  static grpc::Status ListConnections(const std::shared_ptr<grpc::Channel>& channel,
                                      const std::string& bearer = "",
                                      absl::Duration timeout = absl::Seconds(5)) {
    auto stub = v1::WorkatoConnector::NewStub(channel);
    v1::ListConnectionsRequest request;
    v1::ListConnectionsResponse response;
    return stub->ListConnections(Context(bearer, timeout).get(), request, &response);
  }

  static grpc::Status HealthCheck(const std::shared_ptr<grpc::Channel>& channel) {
    auto health = grpc::health::v1::Health::NewStub(channel);
    grpc::health::v1::HealthCheckRequest request;
    grpc::health::v1::HealthCheckResponse response;
    grpc::Status status = health->Check(Context("", absl::Seconds(5)).get(), request, &response);
    if (status.ok()) {
      EXPECT_EQ(response.status(), grpc::health::v1::HealthCheckResponse::SERVING);
    }
    return status;
  }

  // Eventually retries `check` until it holds or `limit` passes.
  static bool Eventually(const std::function<bool()>& check,
                         absl::Duration limit = absl::Seconds(10)) {
    const absl::Time end = absl::Now() + limit;
    while (absl::Now() < end) {
      if (check()) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return check();
  }

  static Pki* pki_;
  FakeWorkato workato_;
  std::string dir_;
  std::unique_ptr<ConnectorServer> server_;
};

Pki* SecurityTest::pki_ = nullptr;

TEST_F(SecurityTest, PlaintextServerAndTlsServerEachSpeakOnlyTheirOwn) {
  Start(Options());
  EXPECT_TRUE(ListConnections(Plaintext()).ok());
  EXPECT_EQ(ListConnections(Tls(Ssl(Pem("ca")))).error_code(), grpc::StatusCode::UNAVAILABLE);
  server_.reset();

  InstallServerCert("server");
  ServerOptions options = Options();
  options.tls.cert_file = ServerCertFile();
  options.tls.key_file = ServerKeyFile();
  Start(options);
  EXPECT_EQ(ListConnections(Plaintext()).error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_TRUE(ListConnections(Tls(Ssl(Pem("ca")))).ok());
}

TEST_F(SecurityTest, TlsClientMustTrustTheServersCa) {
  InstallServerCert("server");
  ServerOptions options = Options();
  options.tls.cert_file = ServerCertFile();
  options.tls.key_file = ServerKeyFile();
  Start(options);
  grpc::Status trusted = ListConnections(Tls(Ssl(Pem("ca"))));
  EXPECT_TRUE(trusted.ok()) << trusted.error_message();
  EXPECT_TRUE(HealthCheck(Tls(Ssl(Pem("ca")))).ok());
  // Another CA, and the system's CAs: the handshake fails.
  EXPECT_EQ(ListConnections(Tls(Ssl(Pem("other_ca")))).error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(ListConnections(Tls(Ssl(""))).error_code(), grpc::StatusCode::UNAVAILABLE);
  // The name checked can be the certificate's DNS name instead of the IP.
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  args.SetSslTargetNameOverride("localhost");
  EXPECT_TRUE(ListConnections(
                  grpc::CreateCustomChannel(Target(), grpc::SslCredentials(Ssl(Pem("ca"))), args))
                  .ok());
  grpc::ChannelArguments wrong_name;
  wrong_name.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  wrong_name.SetSslTargetNameOverride("not-the-server.example");
  EXPECT_EQ(ListConnections(grpc::CreateCustomChannel(
                                Target(), grpc::SslCredentials(Ssl(Pem("ca"))), wrong_name))
                .error_code(),
            grpc::StatusCode::UNAVAILABLE);
}

TEST_F(SecurityTest, MutualTlsNeedsAClientCertificateFromTheClientCa) {
  InstallServerCert("server");
  ServerOptions options = Options();
  options.tls.cert_file = ServerCertFile();
  options.tls.key_file = ServerKeyFile();
  options.tls.client_ca_file = pki_->Path("ca", "pem");
  Start(options);
  grpc::Status good = ListConnections(Tls(Ssl(Pem("ca"), Pem("client"), Key("client"))));
  EXPECT_TRUE(good.ok()) << good.error_message();
  EXPECT_TRUE(HealthCheck(Tls(Ssl(Pem("ca"), Pem("client"), Key("client")))).ok());
  EXPECT_EQ(ListConnections(Tls(Ssl(Pem("ca")))).error_code(), grpc::StatusCode::UNAVAILABLE)
      << "no client certificate";
  EXPECT_EQ(ListConnections(Tls(Ssl(Pem("ca"), Pem("client_by_other"), Key("client_by_other"))))
                .error_code(),
            grpc::StatusCode::UNAVAILABLE)
      << "client certificate from another CA";
  EXPECT_EQ(ListConnections(Plaintext()).error_code(), grpc::StatusCode::UNAVAILABLE);
}

TEST_F(SecurityTest, ServerCertificateIsReloadedWithoutRestart) {
  InstallServerCert("server_by_other");
  ServerOptions options = Options();
  options.tls.cert_file = ServerCertFile();
  options.tls.key_file = ServerKeyFile();
  Start(options);
  ASSERT_TRUE(ListConnections(Tls(Ssl(Pem("other_ca")))).ok());
  ASSERT_EQ(ListConnections(Tls(Ssl(Pem("ca")))).error_code(), grpc::StatusCode::UNAVAILABLE);

  InstallServerCert("server");
  // New connections see the new certificate within the refresh interval.
  EXPECT_TRUE(Eventually([&] { return ListConnections(Tls(Ssl(Pem("ca")))).ok(); }));
  EXPECT_EQ(ListConnections(Tls(Ssl(Pem("other_ca")))).error_code(), grpc::StatusCode::UNAVAILABLE);
}

TEST_F(SecurityTest, BadTlsFilesStopTheStart) {
  ServerOptions options = Options();
  options.tls.cert_file = dir_ + "/missing.crt";
  options.tls.key_file = dir_ + "/missing.key";
  auto started = ConnectorServer::Start(options);
  ASSERT_FALSE(started.ok());
  EXPECT_THAT(started.status().message(), HasSubstr("--tls_cert_file"));

  options.tls.cert_file = pki_->Path("server", "pem");
  options.tls.key_file = pki_->Path("client", "key");  // Not this certificate's key.
  started = ConnectorServer::Start(options);
  ASSERT_FALSE(started.ok());
  EXPECT_THAT(started.status().message(), HasSubstr("is not the key of the certificate"));

  options.tls.key_file = "";
  started = ConnectorServer::Start(options);
  ASSERT_FALSE(started.ok());
  EXPECT_THAT(started.status().message(), HasSubstr("go together"));
}

// The callers file of most tests: one admin, one reader.
std::string Callers() {
  return absl::StrCat("# name scope token\n", "ops-admin admin ", kAdminToken, "\n",
                      "\n  reporting\tread ", kReaderToken, "   # dashboards\n");
}

struct Rpc {
  const char* name;
  bool needs_admin;
  std::function<grpc::Status(v1::WorkatoConnector::Stub*, const std::string& bearer,
                             const std::string& connection_id)>
      call;
};

std::vector<Rpc> AllRpcs() {
  using Stub = v1::WorkatoConnector::Stub;
  return {
      {"Connect", true,
       [](Stub* stub, const std::string& bearer, const std::string&) {
         v1::ConnectRequest request;
         request.set_data_center(v1::DATA_CENTER_US);
         request.set_api_token(kWorkatoToken);
         v1::Connection response;
         return stub->Connect(Context(bearer).get(), request, &response);
       }},
      {"Sync", true,
       [](Stub* stub, const std::string& bearer, const std::string& id) {
         v1::SyncRequest request;
         request.set_connection_id(id);
         v1::SyncRun response;
         return stub->Sync(Context(bearer).get(), request, &response);
       }},
      {"GetConnection", false,
       [](Stub* stub, const std::string& bearer, const std::string& id) {
         v1::GetConnectionRequest request;
         request.set_connection_id(id);
         v1::Connection response;
         return stub->GetConnection(Context(bearer).get(), request, &response);
       }},
      {"ListConnections", false,
       [](Stub* stub, const std::string& bearer, const std::string&) {
         v1::ListConnectionsRequest request;
         v1::ListConnectionsResponse response;
         return stub->ListConnections(Context(bearer).get(), request, &response);
       }},
      {"ListUsers", false,
       [](Stub* stub, const std::string& bearer, const std::string& id) {
         v1::ListUsersRequest request;
         request.set_connection_id(id);
         v1::ListUsersResponse response;
         return stub->ListUsers(Context(bearer).get(), request, &response);
       }},
      {"ListSyncRuns", false,
       [](Stub* stub, const std::string& bearer, const std::string& id) {
         v1::ListSyncRunsRequest request;
         request.set_connection_id(id);
         v1::ListSyncRunsResponse response;
         return stub->ListSyncRuns(Context(bearer).get(), request, &response);
       }},
      // Last: it removes the connection the others use.
      {"DeleteConnection", true,
       [](Stub* stub, const std::string& bearer, const std::string& id) {
         v1::DeleteConnectionRequest request;
         request.set_connection_id(id);
         v1::DeleteConnectionResponse response;
         return stub->DeleteConnection(Context(bearer).get(), request, &response);
       }},
  };
}

TEST_F(SecurityTest, EveryRpcChecksTheCallersTokenAndScope) {
  WriteFile(CallersFile(), Callers());
  ServerOptions options = Options();
  options.caller_tokens_file = CallersFile();
  Start(options);
  auto stub = v1::WorkatoConnector::NewStub(Plaintext());
  // A connection with users and a sync run for the read calls to find.
  v1::ConnectRequest connect;
  connect.set_data_center(v1::DATA_CENTER_US);
  connect.set_api_token(kWorkatoToken);
  v1::Connection connection;
  ASSERT_TRUE(stub->Connect(Context(kAdminToken).get(), connect, &connection).ok());
  v1::SyncRequest sync;
  sync.set_connection_id(connection.id());
  v1::SyncRun run;
  ASSERT_TRUE(stub->Sync(Context(kAdminToken).get(), sync, &run).ok());
  const int workato_calls = workato_.RequestCount(testing::Endpoint::kUsersMe) +
                            workato_.RequestCount(testing::Endpoint::kMembers);

  struct Case {
    const char* caller;
    std::string bearer;
    // Expected for read methods and for admin methods.
    grpc::StatusCode read;
    grpc::StatusCode admin;
    const char* read_reason;
    const char* admin_reason;
  };
  const std::vector<Case> cases = {
      {"no token", "", grpc::StatusCode::UNAUTHENTICATED, grpc::StatusCode::UNAUTHENTICATED,
       "CALLER_UNAUTHENTICATED", "CALLER_UNAUTHENTICATED"},
      {"unknown token", "not-a-caller-token-0000000000", grpc::StatusCode::UNAUTHENTICATED,
       grpc::StatusCode::UNAUTHENTICATED, "CALLER_UNAUTHENTICATED", "CALLER_UNAUTHENTICATED"},
      {"prefix of a real token", std::string(kAdminToken).substr(0, 20),
       grpc::StatusCode::UNAUTHENTICATED, grpc::StatusCode::UNAUTHENTICATED,
       "CALLER_UNAUTHENTICATED", "CALLER_UNAUTHENTICATED"},
      {"read token", kReaderToken, grpc::StatusCode::OK, grpc::StatusCode::PERMISSION_DENIED, "",
       "CALLER_PERMISSION_DENIED"},
      // Last: its DeleteConnection succeeds.
      {"admin token", kAdminToken, grpc::StatusCode::OK, grpc::StatusCode::OK, "", ""},
  };
  for (const Case& c : cases) {
    for (const Rpc& rpc : AllRpcs()) {
      SCOPED_TRACE(absl::StrCat(c.caller, " calls ", rpc.name));
      grpc::Status status = rpc.call(stub.get(), c.bearer, connection.id());
      EXPECT_EQ(status.error_code(), rpc.needs_admin ? c.admin : c.read) << status.error_message();
      const char* reason = rpc.needs_admin ? c.admin_reason : c.read_reason;
      if (*reason != '\0') {
        EXPECT_EQ(ReasonOf(status), reason);
      }
      if (status.error_code() == grpc::StatusCode::PERMISSION_DENIED) {
        EXPECT_THAT(status.error_message(), HasSubstr("reporting"));
        EXPECT_THAT(status.error_message(), HasSubstr("admin"));
      }
    }
    if (c.admin != grpc::StatusCode::OK) {
      // Rejected calls never reached Workato.
      EXPECT_EQ(workato_.RequestCount(testing::Endpoint::kUsersMe) +
                    workato_.RequestCount(testing::Endpoint::kMembers),
                workato_calls)
          << c.caller;
    }
  }
  // The admin's DeleteConnection went through.
  v1::GetConnectionRequest get;
  get.set_connection_id(connection.id());
  EXPECT_EQ(stub->GetConnection(Context(kAdminToken).get(), get, &connection).error_code(),
            grpc::StatusCode::NOT_FOUND);
  // The scheme is case-insensitive (RFC 6750); anything but Bearer is not.
  v1::ListConnectionsRequest list;
  v1::ListConnectionsResponse listed;
  grpc::ClientContext lower;
  lower.AddMetadata("authorization", absl::StrCat("bearer ", kReaderToken));
  EXPECT_TRUE(stub->ListConnections(&lower, list, &listed).ok());
  grpc::ClientContext basic;
  basic.AddMetadata("authorization", absl::StrCat("Basic ", kReaderToken));
  EXPECT_EQ(stub->ListConnections(&basic, list, &listed).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
}

TEST_F(SecurityTest, CallerTokensAndMutualTlsTogether) {
  WriteFile(CallersFile(), Callers());
  InstallServerCert("server");
  ServerOptions options = Options();
  options.tls.cert_file = ServerCertFile();
  options.tls.key_file = ServerKeyFile();
  options.tls.client_ca_file = pki_->Path("ca", "pem");
  options.caller_tokens_file = CallersFile();
  Start(options);
  auto channel = Tls(Ssl(Pem("ca"), Pem("client"), Key("client")));
  EXPECT_TRUE(ListConnections(channel, kReaderToken).ok());
  EXPECT_EQ(ListConnections(channel).error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_TRUE(HealthCheck(channel).ok());
  EXPECT_TRUE(ReflectionCall(channel.get(), 7, "*", kReaderToken).status.ok());
}

TEST_F(SecurityTest, HealthIsOpenAndReflectionNeedsAReadToken) {
  WriteFile(CallersFile(), Callers());
  ServerOptions options = Options();
  options.caller_tokens_file = CallersFile();
  Start(options);
  auto channel = Plaintext();
  EXPECT_TRUE(HealthCheck(channel).ok());

  testing::ReflectionResult anonymous = ReflectionCall(channel.get(), 7, "*");
  EXPECT_EQ(anonymous.status.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_TRUE(anonymous.answer.empty());
  testing::ReflectionResult unknown = ReflectionCall(
      channel.get(), 4, "workato.connector.v1.WorkatoConnector", "not-a-caller-token-0000000000");
  EXPECT_EQ(unknown.status.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_TRUE(unknown.answer.empty());

  for (const char* token : {kReaderToken, kAdminToken}) {
    testing::ReflectionResult listed = ReflectionCall(channel.get(), 7, "*", token);
    ASSERT_TRUE(listed.status.ok()) << listed.status.error_message();
    std::vector<std::string> names;
    for (const auto& list : LengthDelimited(listed.answer, 6)) {
      for (const auto& service : LengthDelimited(list, 1)) {
        for (const auto& name : LengthDelimited(service, 1)) names.push_back(name);
      }
    }
    EXPECT_THAT(names, ::testing::Contains("workato.connector.v1.WorkatoConnector"));
  }
  // The server still works after the rejected streams.
  EXPECT_TRUE(ListConnections(channel, kReaderToken).ok());
}

TEST_F(SecurityTest, TokensFileIsReloadedAndABrokenOneKeepsThePreviousCallers) {
  WriteFile(CallersFile(), Callers());
  ServerOptions options = Options();
  options.caller_tokens_file = CallersFile();
  Start(options);
  auto channel = Plaintext();
  ASSERT_EQ(ListConnections(channel, kLateToken).error_code(), grpc::StatusCode::UNAUTHENTICATED);

  // Added in place.
  WriteFile(CallersFile(), absl::StrCat(Callers(), "late-joiner read ", kLateToken, "\n"));
  EXPECT_TRUE(Eventually([&] { return ListConnections(channel, kLateToken).ok(); }));
  EXPECT_TRUE(ListConnections(channel, kReaderToken).ok());

  // A broken version is refused; everyone keeps working.
  ::testing::internal::CaptureStderr();
  ReplaceFile(CallersFile(), absl::StrCat(Callers(), "late-joiner superuser ", kLateToken, "\n"));
  std::this_thread::sleep_for(std::chrono::milliseconds(600));
  EXPECT_TRUE(ListConnections(channel, kLateToken).ok());
  EXPECT_TRUE(ListConnections(channel, kAdminToken).ok());
  const std::string logs = ::testing::internal::GetCapturedStderr();
  EXPECT_THAT(logs, HasSubstr("caller tokens file not reloaded"));
  EXPECT_THAT(logs, HasSubstr("line 5"));
  EXPECT_THAT(logs, Not(HasSubstr(kLateToken)));

  // Removed (the file replaced, as a Secret update does): it stops working.
  ReplaceFile(CallersFile(), Callers());
  EXPECT_TRUE(Eventually([&] {
    return ListConnections(channel, kLateToken).error_code() == grpc::StatusCode::UNAUTHENTICATED;
  }));
  EXPECT_TRUE(ListConnections(channel, kReaderToken).ok());
}

TEST_F(SecurityTest, MalformedTokensFileStopsTheStartWithoutEchoingTokens) {
  const std::string secret = "secret-token-that-must-not-leak-1";
  const std::vector<std::pair<std::string, std::string>> cases = {
      {absl::StrCat("ok admin ", kAdminToken, "\nbroken ", secret, "\n"), "line 2"},
      {absl::StrCat("# c\nwho owner ", secret, "\n"), "line 2: the scope must be"},
      {absl::StrCat("a read ", secret, "\nb admin ", secret, "\n"), "already used on line 1"},
      {absl::StrCat("a read ", secret, "\na admin ", kAdminToken, "\n"), "already named"},
      {"a read short\n", "shorter than 16"},
      {absl::StrCat("a read ", secret, " extra\n"), "found 4 fields"},
  };
  for (const auto& [text, expected] : cases) {
    WriteFile(CallersFile(), text);
    ServerOptions options = Options();
    options.caller_tokens_file = CallersFile();
    auto started = ConnectorServer::Start(options);
    ASSERT_FALSE(started.ok()) << text;
    EXPECT_THAT(started.status().message(), HasSubstr(expected));
    EXPECT_THAT(started.status().message(), Not(HasSubstr(secret)));
    EXPECT_THAT(started.status().message(), Not(HasSubstr(kAdminToken)));
  }
  ServerOptions options = Options();
  options.caller_tokens_file = dir_ + "/no-such-file";
  auto started = ConnectorServer::Start(options);
  ASSERT_FALSE(started.ok());
  EXPECT_THAT(started.status().message(), HasSubstr("cannot read the caller tokens file"));
}

TEST_F(SecurityTest, LogsNameTheCallerButNeverItsToken) {
  WriteFile(CallersFile(), Callers());
  ServerOptions options = Options();
  options.caller_tokens_file = CallersFile();
  Start(options);
  auto channel = Plaintext();
  ::testing::internal::CaptureStderr();
  for (const Rpc& rpc : AllRpcs()) {
    auto stub = v1::WorkatoConnector::NewStub(channel);
    (void)rpc.call(stub.get(), kReaderToken, "conn_0000000000000000");
    (void)rpc.call(stub.get(), kAdminToken, "conn_0000000000000000");
    (void)rpc.call(stub.get(), "not-a-caller-token-0000000000", "conn_0000000000000000");
  }
  (void)ReflectionCall(channel.get(), 7, "*", "not-a-caller-token-0000000000");
  const std::string logs = ::testing::internal::GetCapturedStderr();
  EXPECT_THAT(logs, HasSubstr("\"caller\":\"reporting\""));
  EXPECT_THAT(logs, HasSubstr("\"caller\":\"ops-admin\""));
  EXPECT_THAT(logs, HasSubstr("CALLER_PERMISSION_DENIED"));
  EXPECT_THAT(logs, HasSubstr("CALLER_UNAUTHENTICATED"));
  EXPECT_THAT(logs, HasSubstr("ServerReflectionInfo"));
  for (const char* token : {kReaderToken, kAdminToken, "not-a-caller-token", kWorkatoToken}) {
    EXPECT_THAT(logs, Not(HasSubstr(token)));
  }
}

TEST_F(SecurityTest, BeyondLoopbackNeedsTlsOrCallerTokensOrAllowInsecure) {
  ServerOptions options = Options();
  // Binding every interface opens a listening socket only; the tests never
  // connect to anything but loopback.
  options.listen = "0.0.0.0:0";
  auto started = ConnectorServer::Start(options);
  ASSERT_FALSE(started.ok());
  EXPECT_EQ(started.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(started.status().message(), HasSubstr("refusing to listen on 0.0.0.0:0"));
  EXPECT_THAT(started.status().message(), HasSubstr("--allow_insecure"));

  ::testing::internal::CaptureStderr();
  options.allow_insecure = true;
  started = ConnectorServer::Start(options);
  ASSERT_TRUE(started.ok()) << started.status();
  started->reset();
  EXPECT_THAT(::testing::internal::GetCapturedStderr(), HasSubstr("--allow_insecure"));

  WriteFile(CallersFile(), Callers());
  options.allow_insecure = false;
  options.caller_tokens_file = CallersFile();
  started = ConnectorServer::Start(options);
  ASSERT_TRUE(started.ok()) << started.status();
  started->reset();

  InstallServerCert("server");
  options.caller_tokens_file = "";
  options.tls.cert_file = ServerCertFile();
  options.tls.key_file = ServerKeyFile();
  started = ConnectorServer::Start(options);
  ASSERT_TRUE(started.ok()) << started.status();
}

TEST(ListenAddressTest, LoopbackIsOnlyThisMachine) {
  for (const char* loopback :
       {"127.0.0.1:50051", "127.8.9.10:1", "localhost:50051", "LocalHost:1", "[::1]:50051",
        "[::ffff:127.0.0.1]:1", "unix:/run/wc.sock", "unix-abstract:wc"}) {
    EXPECT_TRUE(IsLoopbackListenAddress(loopback)) << loopback;
  }
  for (const char* exposed :
       {"0.0.0.0:50051", "[::]:50051", ":50051", "10.0.0.5:1", "128.0.0.1:1", "example.com:1",
        "localhost.example.com:1", "::1:50051", "[::ffff:10.0.0.1]:1"}) {
    EXPECT_FALSE(IsLoopbackListenAddress(exposed)) << exposed;
  }
}

TEST(CallerTokensParseTest, CommentsBlankLinesAndScopes) {
  auto parsed = ParseCallerTokens(absl::StrCat("# header\n\n   \nalice admin ", kAdminToken,
                                               " # trailing\r\nbob\tread\t", kReaderToken));
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  ASSERT_EQ(parsed->size(), 2u);
  EXPECT_EQ((*parsed)[0].name, "alice");
  EXPECT_EQ((*parsed)[0].scope, CallerScope::kAdmin);
  EXPECT_EQ((*parsed)[1].name, "bob");
  EXPECT_EQ((*parsed)[1].scope, CallerScope::kRead);
  auto empty = ParseCallerTokens("# nobody yet\n");
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->empty());
}

}  // namespace
}  // namespace workato_connector
