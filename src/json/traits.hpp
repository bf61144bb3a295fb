#pragma once
// Type classification shared by the decoder, the encoder and the schema emitter.

#include <optional>
#include <type_traits>
#include <vector>

#include <boost/describe/enumerators.hpp>
#include <boost/describe/members.hpp>

namespace svc::json::detail {

template <class T>
struct is_optional : std::false_type {};
template <class T>
struct is_optional<std::optional<T>> : std::true_type {};

template <class T>
struct is_vector : std::false_type {};
template <class T, class A>
struct is_vector<std::vector<T, A>> : std::true_type {};

template <class T>
concept described_struct = std::is_class_v<T> && boost::describe::has_describe_members<T>::value;

template <class T>
concept described_enum = std::is_enum_v<T> && boost::describe::has_describe_enumerators<T>::value;

// The public data members of a described struct, in declaration order.
template <class T>
using members_of = boost::describe::describe_members<T, boost::describe::mod_public>;

// A false that depends on T, for static_assert in a discarded `if constexpr` branch.
template <class T>
inline constexpr bool dependent_false = false;  // NOLINT(readability-identifier-naming): the idiom's name

}  // namespace svc::json::detail
