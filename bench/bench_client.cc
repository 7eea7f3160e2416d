// bench-client: the gRPC side of scripts/bench.sh.
//
//   bench-client --mode=connect --target=HOST:PORT --token_file=F
//       prints the new connection id
//   bench-client --mode=sync --target=... --connection=ID
//       one Sync RPC, timed end to end with a monotonic clock; prints
//       "seconds=S active=N added=N updated=N removed=N"
//   bench-client --mode=load --method=list|health --concurrency=C --duration=D
//       closed loop over the callback API: C calls always in flight on one
//       channel, each completion starts the next. Calls completing in the
//       first --warmup are not counted. Prints "qps=Q p50_ms=X p99_ms=Y
//       calls=N errors=E".
//   bench-client --mode=populate --token_file=F --first=I --count=N
//       Connect then Sync, one after the other, for the tokens "<token>-<i>"
//       with i = I .. I+N-1 (bench-workato --workspaces), on --concurrency
//       threads sharing one channel. Prints "seconds=S connections=N users=U
//       connect_seconds=C sync_seconds=Y" (C and Y summed over the calls);
//       exits 1 at the first failure.
//
//   connect also takes --token_suffix=I, for the token "<token>-<I>".

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <memory>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/support/proto_buffer_writer.h>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "workato/connector/v1/connector.grpc.pb.h"

ABSL_FLAG(std::string, mode, "load", "connect, sync, load or populate");
ABSL_FLAG(std::string, target, "127.0.0.1:50051", "server address");
ABSL_FLAG(std::string, token_file, "", "connect: file with the Workato API token");
ABSL_FLAG(std::string, connection, "", "sync/load: connection id");
ABSL_FLAG(std::string, method, "list", "load: list (ListUsers) or health (Health.Check)");
ABSL_FLAG(int, concurrency, 1, "load: calls in flight; populate: threads");
ABSL_FLAG(absl::Duration, duration, absl::Seconds(60), "load: measured duration");
ABSL_FLAG(absl::Duration, warmup, absl::Seconds(1), "load: not measured, before --duration");
ABSL_FLAG(int, page_size, 100, "load: ListUsers page size");
ABSL_FLAG(bool, decode, false,
          "load: parse each response into its message. Off, responses are received as bytes "
          "and dropped (a generic stub), so the client's parsing does not compete with the "
          "server for the same cores; both methods are measured the same way either way.");
ABSL_FLAG(int, token_suffix, 0, "connect: if > 0, use the token \"<token>-<suffix>\"");
ABSL_FLAG(int, first, 1, "populate: first token suffix");
ABSL_FLAG(int, count, 0, "populate: connections to connect and sync");

namespace v1 = workato::connector::v1;
namespace health = grpc::health::v1;
using Clock = std::chrono::steady_clock;

namespace {

std::shared_ptr<grpc::Channel> MakeChannel() {
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(64 << 20);
  return grpc::CreateCustomChannel(absl::GetFlag(FLAGS_target), grpc::InsecureChannelCredentials(),
                                   args);
}

std::string ReadToken() {
  std::ifstream in(absl::GetFlag(FLAGS_token_file));
  std::ostringstream token;
  token << in.rdbuf();
  return std::string(absl::StripAsciiWhitespace(token.str()));
}

// Connects `token`; returns the connection id, or "" after printing the error.
std::string ConnectToken(v1::WorkatoConnector::Stub* stub, const std::string& token) {
  v1::ConnectRequest req;
  req.set_data_center(v1::DATA_CENTER_US);
  req.set_api_token(token);
  req.set_display_name("bench");
  v1::Connection resp;
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
  ctx.set_wait_for_ready(true);
  grpc::Status s = stub->Connect(&ctx, req, &resp);
  if (!s.ok()) {
    std::cerr << "Connect: " << s.error_code() << " " << s.error_message() << "\n";
    return "";
  }
  return resp.id();
}

// One Sync RPC; false after printing the error.
bool SyncConnection(v1::WorkatoConnector::Stub* stub, const std::string& id, v1::SyncRun* resp) {
  v1::SyncRequest req;
  req.set_connection_id(id);
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(600));
  grpc::Status s = stub->Sync(&ctx, req, resp);
  if (!s.ok()) {
    std::cerr << "Sync: " << s.error_code() << " " << s.error_message() << "\n";
    return false;
  }
  if (!resp->error_reason().empty()) {
    std::cerr << "Sync run failed: " << resp->error_reason() << " " << resp->error_message()
              << "\n";
    return false;
  }
  return true;
}

int Connect() {
  std::string token = ReadToken();
  if (absl::GetFlag(FLAGS_token_suffix) > 0) {
    token = absl::StrCat(token, "-", absl::GetFlag(FLAGS_token_suffix));
  }
  auto stub = v1::WorkatoConnector::NewStub(MakeChannel());
  const std::string id = ConnectToken(stub.get(), token);
  if (id.empty()) return 1;
  std::cout << id << "\n";
  return 0;
}

int Populate() {
  const std::string token = ReadToken();
  const int first = absl::GetFlag(FLAGS_first);
  const int count = absl::GetFlag(FLAGS_count);
  const int threads = std::max(1, absl::GetFlag(FLAGS_concurrency));
  auto channel = MakeChannel();
  auto stub = v1::WorkatoConnector::NewStub(channel);
  channel->WaitForConnected(std::chrono::system_clock::now() + std::chrono::seconds(10));
  std::atomic<int> next{0};
  std::atomic<bool> failed{false};
  std::atomic<int64_t> users{0}, connect_ns{0}, sync_ns{0};
  auto worker = [&] {
    for (int i = next++; i < count && !failed; i = next++) {
      const auto t0 = Clock::now();
      const std::string id = ConnectToken(stub.get(), absl::StrCat(token, "-", first + i));
      const auto t1 = Clock::now();
      v1::SyncRun run;
      if (id.empty() || !SyncConnection(stub.get(), id, &run)) {
        std::cerr << "populate: connection " << first + i << " failed\n";
        failed = true;
        return;
      }
      const auto t2 = Clock::now();
      users += run.active_user_count();
      connect_ns += std::chrono::duration_cast<std::chrono::nanoseconds>(t1 - t0).count();
      sync_ns += std::chrono::duration_cast<std::chrono::nanoseconds>(t2 - t1).count();
    }
  };
  const auto start = Clock::now();
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) pool.emplace_back(worker);
  for (auto& t : pool) t.join();
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  if (failed) return 1;
  std::printf("seconds=%.3f connections=%d users=%lld connect_seconds=%.3f sync_seconds=%.3f\n",
              seconds, count, static_cast<long long>(users.load()),
              static_cast<double>(connect_ns.load()) / 1e9,
              static_cast<double>(sync_ns.load()) / 1e9);
  return 0;
}

int Sync() {
  auto channel = MakeChannel();
  auto stub = v1::WorkatoConnector::NewStub(channel);
  // Connect the channel first so that the timing covers the RPC only.
  channel->WaitForConnected(std::chrono::system_clock::now() + std::chrono::seconds(10));
  v1::SyncRun resp;
  const auto start = Clock::now();
  const bool ok = SyncConnection(stub.get(), absl::GetFlag(FLAGS_connection), &resp);
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  if (!ok) return 1;
  std::printf("seconds=%.6f active=%d added=%d updated=%d removed=%d\n", seconds,
              resp.active_user_count(), resp.added_count(), resp.updated_count(),
              resp.removed_count());
  return 0;
}

// One call in flight at a time per slot; its callbacks are therefore
// serialised and its latency vector needs no lock.
struct Slot {
  std::unique_ptr<grpc::ClientContext> ctx;
  grpc::ByteBuffer raw_req;
  grpc::ByteBuffer raw_resp;
  v1::ListUsersRequest list_req;
  v1::ListUsersResponse list_resp;
  health::HealthCheckRequest health_req;
  health::HealthCheckResponse health_resp;
  Clock::time_point start;
  std::vector<int64_t> latencies_ns;
  int64_t errors = 0;
};

class Load {
 public:
  Load(std::shared_ptr<grpc::Channel> channel, bool list)
      : list_(list),
        decode_(absl::GetFlag(FLAGS_decode)),
        stub_(v1::WorkatoConnector::NewStub(channel)),
        health_stub_(health::Health::NewStub(channel)),
        generic_stub_(channel) {}

  void Run(int concurrency, Clock::duration warmup, Clock::duration duration) {
    slots_.resize(static_cast<size_t>(concurrency));
    measure_from_ = Clock::now() + warmup;
    measure_to_ = measure_from_ + duration;
    in_flight_ = concurrency;
    for (auto& slot : slots_) {
      slot.list_req.set_connection_id(absl::GetFlag(FLAGS_connection));
      slot.list_req.set_page_size(absl::GetFlag(FLAGS_page_size));
      bool own = false;
      if (list_) {
        (void)grpc::GenericSerialize<grpc::ProtoBufferWriter, v1::ListUsersRequest>(
            slot.list_req, &slot.raw_req, &own);
      } else {
        (void)grpc::GenericSerialize<grpc::ProtoBufferWriter, health::HealthCheckRequest>(
            slot.health_req, &slot.raw_req, &own);
      }
      Start(&slot);
    }
    std::unique_lock<std::mutex> lock(mu_);
    done_.wait(lock, [this] { return in_flight_ == 0; });
  }

  void Report(Clock::duration duration) const {
    std::vector<int64_t> all;
    int64_t errors = 0;
    for (const auto& slot : slots_) {
      all.insert(all.end(), slot.latencies_ns.begin(), slot.latencies_ns.end());
      errors += slot.errors;
    }
    std::sort(all.begin(), all.end());
    auto pct = [&all](double p) -> double {
      if (all.empty()) return 0;
      size_t i = static_cast<size_t>(p * static_cast<double>(all.size() - 1) + 0.5);
      return static_cast<double>(all[i]) / 1e6;
    };
    const double secs = std::chrono::duration<double>(duration).count();
    std::printf("qps=%.1f p50_ms=%.4f p99_ms=%.4f calls=%zu errors=%lld\n",
                static_cast<double>(all.size()) / secs, pct(0.50), pct(0.99), all.size(),
                static_cast<long long>(errors));
  }

 private:
  void Start(Slot* slot) {
    slot->ctx = std::make_unique<grpc::ClientContext>();
    slot->ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    slot->start = Clock::now();
    auto on_done = [this, slot](grpc::Status s) { Done(slot, s); };
    if (!decode_) {
      generic_stub_.UnaryCall(
          slot->ctx.get(),
          list_ ? "/workato.connector.v1.WorkatoConnector/ListUsers" : "/grpc.health.v1.Health/Check",
          grpc::StubOptions(), &slot->raw_req, &slot->raw_resp, on_done);
    } else if (list_) {
      stub_->async()->ListUsers(slot->ctx.get(), &slot->list_req, &slot->list_resp, on_done);
    } else {
      health_stub_->async()->Check(slot->ctx.get(), &slot->health_req, &slot->health_resp,
                                   on_done);
    }
  }

  void Done(Slot* slot, const grpc::Status& s) {
    const auto now = Clock::now();
    if (now >= measure_from_ && now < measure_to_) {
      if (s.ok()) {
        slot->latencies_ns.push_back(
            std::chrono::duration_cast<std::chrono::nanoseconds>(now - slot->start).count());
      } else {
        ++slot->errors;
      }
    }
    if (now < measure_to_) {
      Start(slot);
      return;
    }
    std::lock_guard<std::mutex> lock(mu_);
    if (--in_flight_ == 0) done_.notify_all();
  }

  const bool list_;
  const bool decode_;
  std::unique_ptr<v1::WorkatoConnector::Stub> stub_;
  std::unique_ptr<health::Health::Stub> health_stub_;
  grpc::GenericStub generic_stub_;
  std::vector<Slot> slots_;
  Clock::time_point measure_from_, measure_to_;
  std::mutex mu_;
  std::condition_variable done_;
  int in_flight_ = 0;
};

int RunLoad() {
  auto channel = MakeChannel();
  if (!channel->WaitForConnected(std::chrono::system_clock::now() + std::chrono::seconds(10))) {
    std::cerr << "load: cannot connect\n";
    return 1;
  }
  const bool list = absl::GetFlag(FLAGS_method) == "list";
  const auto duration = absl::ToChronoNanoseconds(absl::GetFlag(FLAGS_duration));
  Load load(channel, list);
  load.Run(std::max(1, absl::GetFlag(FLAGS_concurrency)),
           absl::ToChronoNanoseconds(absl::GetFlag(FLAGS_warmup)), duration);
  load.Report(duration);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  const std::string mode = absl::GetFlag(FLAGS_mode);
  if (mode == "connect") return Connect();
  if (mode == "sync") return Sync();
  if (mode == "load") return RunLoad();
  if (mode == "populate") return Populate();
  std::cerr << "unknown --mode " << mode << "\n";
  return 2;
}
