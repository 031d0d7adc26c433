// What ember's libFuzzer targets share (tests/fuzz/, built and run by run.sh): a private temporary
// folder for the files a target writes, and the rule every target enforces on each input: a load
// either succeeds or throws ember::Error and leaves what it was loading into as it was. Anything
// else (another exception, a changed model, a sanitizer report, a timeout, too much memory) stops
// the fuzzer with a crash that libFuzzer saves as a reproducer.
#pragma once

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>
#include <unistd.h>

#include <ember/error.hpp>

namespace fuzz {

// A folder of its own under $TMPDIR (or /tmp), removed when the process exits normally.
inline const std::filesystem::path& temp_dir() {
  static const std::filesystem::path dir = [] {
    const char* base = std::getenv("TMPDIR");
    std::string pattern = std::string(base && *base ? base : "/tmp") + "/ember_fuzz_XXXXXX";
    if (!::mkdtemp(pattern.data())) {
      std::perror("ember fuzz: mkdtemp");
      std::abort();
    }
    std::atexit([] {
      std::error_code ec;
      std::filesystem::remove_all(temp_dir(), ec);
    });
    return std::filesystem::path(pattern);
  }();
  return dir;
}

inline void write_file(const std::filesystem::path& path, const void* data, std::size_t size) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(static_cast<const char*>(data), static_cast<std::streamsize>(size));
  if (!out) {
    std::fprintf(stderr, "ember fuzz: cannot write %s\n", path.c_str());
    std::abort();
  }
}

[[noreturn]] inline void fail(std::string_view what) {
  std::fprintf(stderr, "\n==ember fuzz== FAILURE: %.*s\n", static_cast<int>(what.size()), what.data());
  std::abort();
}

// Runs `load`; returns true if it succeeded, false if it threw ember::Error. Any other exception
// is a finding.
template <class F>
bool try_load(F&& load) {
  try {
    load();
    return true;
  } catch (const ember::Error&) {
    return false;
  } catch (const std::exception& e) {
    fail(std::string("an exception other than ember::Error escaped: ") + typeid(e).name() + ": " + e.what());
  } catch (...) {
    fail("an exception other than ember::Error (not even a std::exception) escaped");
  }
}

}  // namespace fuzz
