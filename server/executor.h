#ifndef WORKATO_CONNECTOR_SERVER_EXECUTOR_H_
#define WORKATO_CONNECTOR_SERVER_EXECUTOR_H_

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace workato_connector {

// Executor runs blocking work (calls to Workato) on a fixed number of
// threads, so that gRPC's own threads never wait on the network. The queue
// is bounded: when it is full, TrySubmit refuses instead of piling up work.
class Executor {
 public:
  Executor(int threads, size_t max_queued);
  // Runs what is queued, then joins the threads.
  ~Executor();

  Executor(const Executor&) = delete;
  Executor& operator=(const Executor&) = delete;

  // TrySubmit queues `task`; false when the queue is full or shut down.
  [[nodiscard]] bool TrySubmit(std::function<void()> task);

  // Shutdown refuses new tasks, finishes the queued ones and joins.
  void Shutdown();

 private:
  void Work();

  const size_t max_queued_;
  std::mutex mu_;
  std::condition_variable wake_;
  std::deque<std::function<void()>> queue_;
  bool stopping_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace workato_connector

#endif  // WORKATO_CONNECTOR_SERVER_EXECUTOR_H_
