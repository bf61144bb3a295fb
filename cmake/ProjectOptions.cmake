# Interface targets every project library links: warnings and sanitizers apply to our
# code only, never to Boost or other third-party headers (those come in as SYSTEM).

add_library(project_warnings INTERFACE)
target_compile_options(project_warnings INTERFACE
    -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor -Woverloaded-virtual
    -Wimplicit-fallthrough -Wold-style-cast -Wcast-align
    # Implicit narrowing and sign changes (GCC leaves the sign ones out of -Wconversion in C++):
    # sizes, offsets and counts cross between size_t, ptrdiff_t, int and the C APIs' types in
    # the parsers and stores, where a silent wrap is a bug; a conversion that cannot lose
    # anything is written as a static_cast beside the check or the reason it fits.
    -Wconversion -Wsign-conversion
    # GCC 12 at -O2 reports Asio's coroutine frames (allocated by Asio's own operator new and
    # freed by its matching delete) as mismatched, and null dereferences inside inlined Boost
    # and libstdc++ code (any_executor equality, ranges::equal): false positives in code that is
    # not ours, so these two are off rather than silenced file by file.
    # Likewise -Wmaybe-uninitialized fires inside libstdc++'s std::variant move constructor.
    $<$<CXX_COMPILER_ID:GNU>:-Wno-mismatched-new-delete -Wno-maybe-uninitialized>
    $<$<BOOL:${ORDERS_WERROR}>:-Werror>)
if(ORDERS_SANITIZE STREQUAL "thread")
    # GCC warns that TSan does not instrument atomic_thread_fence, which Asio uses; the fences
    # Asio relies on are paired with atomics TSan does see.
    target_compile_options(project_warnings INTERFACE -Wno-tsan)
endif()

# Debug sections are zlib-compressed in objects and executables (the sanitizer build is about
# 200 MB smaller on disk; ASan's symbolizer, gdb and perf read them as they are), and the
# compiler pipes between its stages instead of writing temporary files to /tmp.
add_compile_options(-pipe $<$<CONFIG:Debug,RelWithDebInfo>:-gz>)
add_link_options($<$<CONFIG:Debug,RelWithDebInfo>:-gz>)

add_library(project_options INTERFACE)
target_compile_features(project_options INTERFACE cxx_std_20)
# Asio and Beast are compiled once, in src/asio (separate compilation mode).
target_compile_definitions(project_options INTERFACE
    BOOST_ASIO_SEPARATE_COMPILATION BOOST_BEAST_SEPARATE_COMPILATION
    BOOST_ASIO_NO_DEPRECATED)

if(ORDERS_SANITIZE)
    set(_san "-fsanitize=${ORDERS_SANITIZE}")
    include(CheckCXXSourceCompiles)
    set(CMAKE_REQUIRED_FLAGS "${_san}")
    set(CMAKE_REQUIRED_LINK_OPTIONS "${_san}")
    check_cxx_source_compiles("int main() { return 0; }" ORDERS_SANITIZER_WORKS)
    unset(CMAKE_REQUIRED_FLAGS)
    unset(CMAKE_REQUIRED_LINK_OPTIONS)
    if(NOT ORDERS_SANITIZER_WORKS)
        message(FATAL_ERROR "the compiler cannot build with ${_san}")
    endif()
    add_compile_options(${_san} -fno-omit-frame-pointer -fno-sanitize-recover=undefined)
    add_link_options(${_san})
endif()

# orders_add_library(NAME SOURCES... [DEPS ...]): one library per src/ folder.
function(orders_add_library name)
    cmake_parse_arguments(ARG "" "" "SOURCES;DEPS" ${ARGN})
    add_library(${name} STATIC ${ARG_SOURCES})
    target_include_directories(${name} PUBLIC ${PROJECT_SOURCE_DIR}/src)
    target_link_libraries(${name} PUBLIC project_options ${ARG_DEPS} PRIVATE project_warnings)
endfunction()
