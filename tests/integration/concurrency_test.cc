// Our own concurrent pieces under load, without gRPC in the way, so that
// ThreadSanitizer (./scripts/test.sh --full) sees every access: Debian's
// prebuilt gRPC hides its synchronisation from TSan, so the gRPC tests do
// not run under it.
#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "connector.h"
#include "curl_fetcher.h"
#include "executor.h"
#include "fake_workato/fake_workato.h"
#include "gtest/gtest.h"
#include "memory_store.h"
#include "rate_limiter.h"

namespace workato_connector {
namespace {

namespace v1 = ::workato::connector::v1;
using testing::FakeWorkato;
using testing::FakeWorkspace;
using testing::GenerateCollaborators;

TEST(ExecutorTest, RunsEverythingQueuedAndRefusesBeyondTheBound) {
  std::atomic<int> ran{0};
  {
    Executor executor(4, 1000);
    for (int i = 0; i < 500; ++i) {
      ASSERT_TRUE(executor.TrySubmit([&ran] { ran.fetch_add(1); }));
    }
  }  // The destructor drains the queue.
  EXPECT_EQ(ran.load(), 500);

  Executor blocked(1, 2);
  std::atomic<bool> started{false}, release{false};
  ASSERT_TRUE(blocked.TrySubmit([&] {
    started = true;
    while (!release.load()) std::this_thread::yield();
  }));
  while (!started.load()) std::this_thread::yield();
  // The only thread is busy: exactly two more fit in the queue.
  int accepted = 0;
  for (int i = 0; i < 5; ++i) accepted += blocked.TrySubmit([] {}) ? 1 : 0;
  EXPECT_EQ(accepted, 2);
  release = true;
  blocked.Shutdown();
  EXPECT_FALSE(blocked.TrySubmit([] {}));
}

class ConcurrencyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (int w = 0; w < kWorkspaces; ++w) {
      FakeWorkspace ws;
      ws.id = 1000 + w;
      ws.name = absl::StrCat("W", w);
      ws.collaborators = GenerateCollaborators(40 + w, static_cast<uint32_t>(w + 1));
      workato_.SetWorkspace(absl::StrCat("token-", w), ws);
    }
    ASSERT_GT(workato_.Start(), 0);
    DataCenterEndpoints endpoints;
    ASSERT_TRUE(endpoints.ApplyOverrides(absl::StrCat("US=", workato_.BaseUrl())).ok());
    fetcher_ = std::make_unique<CurlFetcher>(CurlFetcherOptions());
    limiter_ = std::make_unique<RateLimiter>(100000, 1000, Clock::Real());
    client_ = std::make_unique<WorkatoClient>(fetcher_.get(), endpoints, WorkatoClientOptions(),
                                              limiter_.get());
    connector_ = std::make_unique<Connector>(client_.get(), &store_, *TokenCipher::WithRandomKey());
  }

  static constexpr int kWorkspaces = 4;
  FakeWorkato workato_;
  MemoryStore store_;
  std::unique_ptr<CurlFetcher> fetcher_;
  std::unique_ptr<RateLimiter> limiter_;
  std::unique_ptr<WorkatoClient> client_;
  std::unique_ptr<Connector> connector_;
};

TEST_F(ConcurrencyTest, ConnectsSyncsReadsAndDeletesAtOnce) {
  std::vector<std::string> ids(kWorkspaces);
  {
    std::vector<std::thread> connects;
    for (int w = 0; w < kWorkspaces; ++w) {
      connects.emplace_back([&, w] {
        v1::ConnectRequest request;
        request.set_data_center(v1::DATA_CENTER_US);
        request.set_api_token(absl::StrCat("token-", w));
        auto connection = connector_->Connect(request, CallContext());
        ASSERT_TRUE(connection.ok()) << connection.status();
        ids[w] = connection->id();
      });
    }
    for (auto& t : connects) t.join();
  }
  std::atomic<bool> stop{false};
  std::atomic<int> syncs{0}, reads{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 6; ++t) {
    threads.emplace_back([&, t] {
      for (int round = 0; round < 8; ++round) {
        v1::SyncRequest request;
        request.set_connection_id(ids[(t + round) % kWorkspaces]);
        connector_->Sync(request, CallContext(), [&](absl::StatusOr<v1::SyncRun> run) {
          EXPECT_TRUE(run.ok()) << run.status();
          syncs.fetch_add(1);
        });
      }
    });
  }
  for (int t = 0; t < 3; ++t) {
    threads.emplace_back([&, t] {
      while (!stop.load()) {
        v1::ListUsersRequest request;
        request.set_connection_id(ids[t % kWorkspaces]);
        request.set_page_size(7);
        do {
          auto page = connector_->ListUsers(request);
          ASSERT_TRUE(page.ok()) << page.status();
          request.set_page_token(page->next_page_token());
        } while (!request.page_token().empty());
        (void)connector_->ListConnections({});
        reads.fetch_add(1);
      }
    });
  }
  for (int t = 0; t < 6; ++t) threads[t].join();
  stop = true;
  for (size_t t = 6; t < threads.size(); ++t) threads[t].join();
  EXPECT_EQ(syncs.load(), 48);
  EXPECT_GT(reads.load(), 0);

  // Deleting while another thread syncs the same connection: either order is
  // fine, but the connection ends up gone and nothing crashes.
  std::thread syncer([&] {
    v1::SyncRequest request;
    request.set_connection_id(ids[3]);
    connector_->Sync(request, CallContext(), [](absl::StatusOr<v1::SyncRun> run) {
      EXPECT_TRUE(run.ok() || run.status().code() == absl::StatusCode::kNotFound) << run.status();
    });
  });
  v1::DeleteConnectionRequest del;
  del.set_connection_id(ids[3]);
  EXPECT_TRUE(connector_->DeleteConnection(del).ok());
  syncer.join();
  EXPECT_FALSE(store_.GetConnection(ids[3]).ok());
  v1::ListUsersRequest gone;
  gone.set_connection_id(ids[3]);
  EXPECT_EQ(connector_->ListUsers(gone).status().code(), absl::StatusCode::kNotFound);
}

TEST_F(ConcurrencyTest, CurlFetcherSharesItsPoolAcrossThreads) {
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int t = 0; t < 6; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 10; ++i) {
        HttpRequest request;
        request.url = absl::StrCat(workato_.BaseUrl(), "/api/users/me");
        request.headers = {{"Authorization", absl::StrCat("Bearer token-", t % kWorkspaces)}};
        request.deadline = absl::Now() + absl::Seconds(10);
        auto response = fetcher_->Get(request);
        if (response.ok() && response->status_code == 200) ok.fetch_add(1);
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), 60);
}

}  // namespace
}  // namespace workato_connector
