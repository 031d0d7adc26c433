// ember's version, as CMake's project(ember VERSION ...) says (a test checks that they agree).
#pragma once

#define EMBER_VERSION_MAJOR 0
#define EMBER_VERSION_MINOR 1
#define EMBER_VERSION_PATCH 0
#define EMBER_VERSION "0.1.0"

namespace ember {

// "0.1.0": the version of the headers this program was compiled with.
inline constexpr const char* version() { return EMBER_VERSION; }

}  // namespace ember
