// fake-workato: serves a generated Workato workspace on 127.0.0.1 for the demo
// and for manual testing, until SIGINT or SIGTERM.

#include <pthread.h>
#include <signal.h>

#include <cstdint>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <utility>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/ascii.h"
#include "fake_workato/fake_workato.h"

ABSL_FLAG(int, port, 18080, "Port to listen on, on 127.0.0.1 only.");
ABSL_FLAG(std::string, token, "", "API token that opens the workspace (or use --token_file).");
ABSL_FLAG(std::string, token_file, "",
          "File holding the API token; keeps it off the command line.");
ABSL_FLAG(int, users, 25, "Number of generated collaborators.");
ABSL_FLAG(uint32_t, seed, 1, "Seed for the generated collaborators.");
ABSL_FLAG(int64_t, workspace_id, 1234567, "Workspace id for /api/users/me.");
ABSL_FLAG(std::string, workspace_name, "Acme Demo", "Workspace name for /api/users/me.");
ABSL_FLAG(bool, gzip, true, "Gzip responses to requests whose Accept-Encoding allows it.");
ABSL_FLAG(absl::Duration, members_delay, absl::ZeroDuration(),
          "Sleep this long before answering /api/members (a slow Workato, for crash tests).");

namespace {

// Reads the token from --token or --token_file; returns "" when neither gives
// one.
std::string ReadToken() {
  std::string token = absl::GetFlag(FLAGS_token);
  const std::string path = absl::GetFlag(FLAGS_token_file);
  if (token.empty() && !path.empty()) {
    std::ifstream in(path);
    if (!in) {
      std::cerr << "fake-workato: cannot read --token_file " << path << "\n";
      return "";
    }
    std::ostringstream contents;
    contents << in.rdbuf();
    token = contents.str();
  }
  // Files usually end with a newline that is not part of the token.
  return std::string(absl::StripAsciiWhitespace(token));
}

}  // namespace

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  namespace wt = workato_connector::testing;

  const std::string token = ReadToken();
  if (token.empty()) {
    std::cerr << "fake-workato: --token or --token_file is required\n";
    return 2;
  }
  const int port = absl::GetFlag(FLAGS_port);
  if (port < 0 || port > 65535) {
    std::cerr << "fake-workato: --port must be in [0, 65535]\n";
    return 2;
  }

  wt::FakeWorkspace ws;
  ws.id = absl::GetFlag(FLAGS_workspace_id);
  ws.name = absl::GetFlag(FLAGS_workspace_name);
  ws.collaborators =
      wt::GenerateCollaborators(absl::GetFlag(FLAGS_users), absl::GetFlag(FLAGS_seed));

  // Block the stop signals before any thread starts so that every server
  // thread inherits the mask and sigwait() below is the only receiver.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  wt::FakeWorkato fake;
  fake.SetWorkspace(token, std::move(ws));
  fake.SetGzip(absl::GetFlag(FLAGS_gzip));
  fake.SetDelay(wt::Endpoint::kMembers, absl::GetFlag(FLAGS_members_delay));
  const int bound = fake.Start(port);
  if (bound < 0) {
    std::cerr << "fake-workato: cannot listen on 127.0.0.1:" << port << "\n";
    return 1;
  }
  std::cout << "fake-workato listening on " << fake.BaseUrl() << std::endl;

  int received = 0;
  sigwait(&stop_signals, &received);
  fake.Stop();
  return 0;
}
