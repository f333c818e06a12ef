# bridge_library(<name> SOURCES <files...> [PUBLIC <libs...>] [PRIVATE <libs...>])
#
# One library of the project: target bridge_<name>, alias Bridge::<name>, public headers in the folder's include/.
function(bridge_library name)
    cmake_parse_arguments(PARSE_ARGV 1 arg "" "" "SOURCES;PUBLIC;PRIVATE")
    add_library(bridge_${name} ${arg_SOURCES})
    add_library(Bridge::${name} ALIAS bridge_${name})
    target_include_directories(bridge_${name} PUBLIC ${CMAKE_CURRENT_SOURCE_DIR}/include)
    target_link_libraries(bridge_${name} PUBLIC ${arg_PUBLIC} PRIVATE ${arg_PRIVATE})
endfunction()
