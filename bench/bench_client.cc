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
#include <vector>

#include <grpcpp/grpcpp.h>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/ascii.h"
#include "absl/time/time.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "workato/connector/v1/connector.grpc.pb.h"

ABSL_FLAG(std::string, mode, "load", "connect, sync or load");
ABSL_FLAG(std::string, target, "127.0.0.1:50051", "server address");
ABSL_FLAG(std::string, token_file, "", "connect: file with the Workato API token");
ABSL_FLAG(std::string, connection, "", "sync/load: connection id");
ABSL_FLAG(std::string, method, "list", "load: list (ListUsers) or health (Health.Check)");
ABSL_FLAG(int, concurrency, 1, "load: calls in flight");
ABSL_FLAG(absl::Duration, duration, absl::Seconds(60), "load: measured duration");
ABSL_FLAG(absl::Duration, warmup, absl::Seconds(1), "load: not measured, before --duration");
ABSL_FLAG(int, page_size, 100, "load: ListUsers page size");

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

int Connect() {
  std::ifstream in(absl::GetFlag(FLAGS_token_file));
  std::ostringstream token;
  token << in.rdbuf();
  auto stub = v1::WorkatoConnector::NewStub(MakeChannel());
  v1::ConnectRequest req;
  req.set_data_center(v1::DATA_CENTER_US);
  req.set_api_token(std::string(absl::StripAsciiWhitespace(token.str())));
  req.set_display_name("bench");
  v1::Connection resp;
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  ctx.set_wait_for_ready(true);
  grpc::Status s = stub->Connect(&ctx, req, &resp);
  if (!s.ok()) {
    std::cerr << "Connect: " << s.error_code() << " " << s.error_message() << "\n";
    return 1;
  }
  std::cout << resp.id() << "\n";
  return 0;
}

int Sync() {
  auto channel = MakeChannel();
  auto stub = v1::WorkatoConnector::NewStub(channel);
  // Connect the channel first so that the timing covers the RPC only.
  channel->WaitForConnected(std::chrono::system_clock::now() + std::chrono::seconds(10));
  v1::SyncRequest req;
  req.set_connection_id(absl::GetFlag(FLAGS_connection));
  v1::SyncRun resp;
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(600));
  const auto start = Clock::now();
  grpc::Status s = stub->Sync(&ctx, req, &resp);
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  if (!s.ok()) {
    std::cerr << "Sync: " << s.error_code() << " " << s.error_message() << "\n";
    return 1;
  }
  if (!resp.error_reason().empty()) {
    std::cerr << "Sync run failed: " << resp.error_reason() << " " << resp.error_message() << "\n";
    return 1;
  }
  std::printf("seconds=%.6f active=%d added=%d updated=%d removed=%d\n", seconds,
              resp.active_user_count(), resp.added_count(), resp.updated_count(),
              resp.removed_count());
  return 0;
}

// One call in flight at a time per slot; its callbacks are therefore
// serialised and its latency vector needs no lock.
struct Slot {
  std::unique_ptr<grpc::ClientContext> ctx;
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
        stub_(v1::WorkatoConnector::NewStub(channel)),
        health_stub_(health::Health::NewStub(channel)) {}

  void Run(int concurrency, Clock::duration warmup, Clock::duration duration) {
    slots_.resize(static_cast<size_t>(concurrency));
    measure_from_ = Clock::now() + warmup;
    measure_to_ = measure_from_ + duration;
    in_flight_ = concurrency;
    for (auto& slot : slots_) {
      slot.list_req.set_connection_id(absl::GetFlag(FLAGS_connection));
      slot.list_req.set_page_size(absl::GetFlag(FLAGS_page_size));
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
    if (list_) {
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
  std::unique_ptr<v1::WorkatoConnector::Stub> stub_;
  std::unique_ptr<health::Health::Stub> health_stub_;
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
  std::cerr << "unknown --mode " << mode << "\n";
  return 2;
}
