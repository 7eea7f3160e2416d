// bench-workato: the Workato stand-in for scripts/bench.sh. Same workspace and
// JSON as tests/fake_workato's fake-workato, plus one control: SIGUSR1 changes
// 1% of the collaborators (every 100th: a new last login time and a renamed
// display name), so the harness can measure a re-sync with 1% changed. After
// each change it prints "changed <generation>" on stdout.
//
// --workspaces=N (growth benchmark) also serves N more workspaces: the token
// "<token>-<i>" (i = 1..N) opens workspace 2000000+i ("Bench <i>") with
// --users collaborators generated for seed --seed+i. They are generated on
// each request (about a millisecond for 1,000) rather than kept, so the
// stand-in stays small however many workspaces it serves; each one's listing
// is the same on every request. SIGUSR1 changes only the workspace of the
// plain token.

#include <pthread.h>
#include <signal.h>

#include <cstdint>
#include <fstream>
#include <iostream>
#include <optional>
#include <sstream>
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "fake_workato/fake_workato.h"

ABSL_FLAG(int, port, 18080, "Port to listen on, on 127.0.0.1 only.");
ABSL_FLAG(std::string, token_file, "", "File holding the API token.");
ABSL_FLAG(int, users, 1000, "Number of generated collaborators.");
ABSL_FLAG(uint32_t, seed, 1, "Seed for the generated collaborators.");
ABSL_FLAG(bool, gzip, true, "Gzip /api/members when the client accepts it (as Workato does).");
ABSL_FLAG(int, change_every, 100, "SIGUSR1 changes every n-th collaborator (100 = 1%).");
ABSL_FLAG(int, workspaces, 0,
          "Also serve workspaces 1..N under the tokens \"<token>-<i>\" (see above).");

namespace wt = workato_connector::testing;

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  std::ifstream in(absl::GetFlag(FLAGS_token_file));
  std::ostringstream contents;
  contents << in.rdbuf();
  const std::string token(absl::StripAsciiWhitespace(contents.str()));
  if (token.empty()) {
    std::cerr << "bench-workato: --token_file is required\n";
    return 2;
  }

  wt::FakeWorkspace ws;
  ws.id = 1234567;
  ws.name = "Bench";
  ws.collaborators = wt::GenerateCollaborators(absl::GetFlag(FLAGS_users), absl::GetFlag(FLAGS_seed));

  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGUSR1);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  wt::FakeWorkato fake;
  fake.SetWorkspace(token, ws);
  fake.SetGzip(absl::GetFlag(FLAGS_gzip));
  const int workspaces = absl::GetFlag(FLAGS_workspaces);
  if (workspaces > 0) {
    const std::string prefix = token + "-";
    const int users = absl::GetFlag(FLAGS_users);
    const uint32_t seed = absl::GetFlag(FLAGS_seed);
    fake.SetWorkspaceResolver(
        [prefix, users, seed, workspaces](const std::string& t) -> std::optional<wt::FakeWorkspace> {
          int i = 0;
          if (!absl::StartsWith(t, prefix) || !absl::SimpleAtoi(t.substr(prefix.size()), &i) ||
              i < 1 || i > workspaces) {
            return std::nullopt;
          }
          wt::FakeWorkspace generated;
          generated.id = 2000000 + i;
          generated.name = absl::StrCat("Bench ", i);
          generated.collaborators = wt::GenerateCollaborators(users, seed + static_cast<uint32_t>(i));
          return generated;
        });
  }
  const int bound = fake.Start(absl::GetFlag(FLAGS_port));
  if (bound < 0) {
    std::cerr << "bench-workato: cannot listen\n";
    return 1;
  }
  std::cout << "fake-workato listening on " << fake.BaseUrl() << std::endl;

  const int every = absl::GetFlag(FLAGS_change_every);
  for (int generation = 1;;) {
    siginfo_t info{};
    const int received = sigwaitinfo(&signals, &info);
    if (received < 0) continue;  // EINTR
    if (received != SIGUSR1) {
      // Says who stopped it, for a stand-in that vanishes mid-benchmark.
      std::cerr << "bench-workato: signal " << received << " from pid " << info.si_pid
                << ", stopping" << std::endl;
      break;
    }
    int changed = 0;
    for (size_t i = 0; i < ws.collaborators.size(); i += static_cast<size_t>(every)) {
      wt::FakeCollaborator& c = ws.collaborators[i];
      c.name = absl::StrCat("Changed", generation, " ", c.name.substr(c.name.find(' ') + 1));
      c.last_activity_at = absl::StrCat("2025-0", 1 + generation % 9, "-1", generation % 10,
                                        "T08:00:00.000Z");
      ++changed;
    }
    fake.SetWorkspace(token, ws);
    std::cout << "changed " << generation << " " << changed << std::endl;
    ++generation;
  }
  fake.Stop();
  return 0;
}
