# Fails when a library includes a header of a library it must not depend on (docs/architecture.md). Run by the
# `layer_check` target on every build: cmake -DSOURCE_DIR=<repo> -P cmake/CheckLayers.cmake
#
# Each entry: a folder, then the include prefixes its files may use besides their own. The rooms of bridge/ are
# listed bottom-up; legacy/ and modern/ never include each other.
cmake_minimum_required(VERSION 3.25)

set(layers
    "mappings|"
    "bridge/base|"
    "bridge/crypto|bridge/base"
    "bridge/store|bridge/base bridge/crypto mappings"
    "bridge/salesforce|bridge/base bridge/crypto mappings"
    "bridge/services|bridge/base bridge/crypto bridge/store bridge/salesforce mappings"
    "bridge/http|bridge/base bridge/crypto bridge/store bridge/salesforce bridge/services mappings"
    "legacy|bridge mappings"
    "modern|bridge mappings"
    "migrations|bridge/base bridge/crypto bridge/store mappings"
    "standin|mappings"
)

set(violations "")
foreach(layer IN LISTS layers)
    string(REPLACE "|" ";" parts "${layer}")
    list(GET parts 0 folder)
    list(LENGTH parts count)
    set(allowed "${folder}")
    if(count GREATER 1)
        list(GET parts 1 others)
        string(REPLACE " " ";" others "${others}")
        list(APPEND allowed ${others})
    endif()
    file(GLOB_RECURSE sources "${SOURCE_DIR}/${folder}/*.h" "${SOURCE_DIR}/${folder}/*.cpp")
    foreach(source IN LISTS sources)
        file(STRINGS "${source}" includes REGEX "^#include \"[a-z]+/")
        foreach(line IN LISTS includes)
            string(REGEX REPLACE "^#include \"([^\"]+)\".*" "\\1" header "${line}")
            set(permitted FALSE)
            foreach(prefix IN LISTS allowed)
                string(FIND "${header}" "${prefix}/" at)
                if(at EQUAL 0)
                    set(permitted TRUE)
                endif()
            endforeach()
            if(NOT permitted)
                file(RELATIVE_PATH shown "${SOURCE_DIR}" "${source}")
                string(APPEND violations "  ${shown} includes ${header}\n")
            endif()
        endforeach()
    endforeach()
endforeach()

if(violations)
    message(FATAL_ERROR "Includes against the layers (docs/architecture.md):\n${violations}")
endif()
