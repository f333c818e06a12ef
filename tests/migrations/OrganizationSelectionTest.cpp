#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "migrations/OrganizationSelection.h"
#include "testsupport/TestDirectory.h"

namespace bridge::migrations {
namespace {

using Ids = std::vector<std::int64_t>;

class OrganizationSelectionTest : public ::testing::Test {
protected:
    void SetUp() override { directory_ = testsupport::freshTestDirectory("bridge-organization-selection"); }
    void TearDown() override { std::filesystem::remove_all(directory_); }

    std::filesystem::path file(const std::string& text) {
        const auto path = directory_ / "orgs.txt";
        std::ofstream(path, std::ios::binary) << text;
        return path;
    }

    // The message of the error that reading `text` as a file ends in.
    std::string fileError(const std::string& text) {
        try {
            OrganizationSelection::fromFile(file(text));
        } catch (const OrganizationSelectionError& error) {
            return error.what();
        }
        ADD_FAILURE() << "no error for:\n" << text;
        return {};
    }

    std::filesystem::path directory_;
};

TEST_F(OrganizationSelectionTest, AListIsSortedWithoutDuplicates) {
    EXPECT_EQ(OrganizationSelection::fromList("1042").ids(), Ids{1042});
    EXPECT_EQ(OrganizationSelection::fromList("1042, 7,7 ,99,4294967295").ids(), (Ids{7, 99, 1042, 4294967295}));
}

TEST_F(OrganizationSelectionTest, AnythingButLegacyIdsInAListIsRefusedNamingTheOption) {
    for (const std::string list : {"", "1,,2", "1,", "-1", "+5", "0", "4294967296", "99999999999999999999", "10x",
                                   "1 2", "1;2", "0x10", "1.5"}) {
        SCOPED_TRACE(list);
        try {
            OrganizationSelection::fromList(list);
            ADD_FAILURE() << "accepted";
        } catch (const OrganizationSelectionError& error) {
            EXPECT_EQ(std::string(error.what()).rfind("--org: '", 0), 0u) << error.what();
            EXPECT_NE(std::string(error.what()).find("is not a legacy organization id"), std::string::npos);
        }
    }
}

TEST_F(OrganizationSelectionTest, AFileHoldsOneIdALineWithCommentsAndBlankLines) {
    const auto selection = OrganizationSelection::fromFile(
        file("# the pilot, agreed with support\n1042\n\n   7  \n99 # Acme's sandbox\r\n\t\n1042\n# done\n5"));
    EXPECT_EQ(selection.ids(), (Ids{5, 7, 99, 1042}));
}

TEST_F(OrganizationSelectionTest, AMalformedLineIsRefusedNamingTheFileAndTheLine) {
    const std::string path = "--orgs-from " + (directory_ / "orgs.txt").string();
    EXPECT_EQ(fileError("1042\n# comment\n\nacme\n7\n"),
              path + " line 4: 'acme' is not a legacy organization id (a whole number from 1 to 4294967295)");
    EXPECT_EQ(fileError("1042,7\n"), path +
                                         " line 1: '1042,7' is not a legacy organization id (a whole number from "
                                         "1 to 4294967295)");
    EXPECT_NE(fileError("1\n2\n-3\n").find(" line 3: '-3'"), std::string::npos);
    // A wrong file (a key, a dump) is echoed no further than an id would be.
    const std::string secret(64, 'f');
    const std::string message = fileError(secret + "\n");
    EXPECT_EQ(message.find(secret), std::string::npos) << message;
    EXPECT_NE(message.find(" line 1: 'ffffffffffffffffffffffff...'"), std::string::npos) << message;
}

TEST_F(OrganizationSelectionTest, AFileThatCannotBeReadOrNamesNoOrganizationIsRefused) {
    const auto error = [](const std::filesystem::path& path) {
        try {
            OrganizationSelection::fromFile(path);
        } catch (const OrganizationSelectionError& error) {
            return std::string(error.what());
        }
        return std::string("no error");
    };
    EXPECT_EQ(error(directory_ / "missing.txt"),
              "--orgs-from " + (directory_ / "missing.txt").string() + ": cannot be read");
    EXPECT_EQ(error(directory_), "--orgs-from " + directory_.string() + ": cannot be read (a directory)");
    EXPECT_EQ(fileError("# nobody yet\n\n"),
              "--orgs-from " + (directory_ / "orgs.txt").string() + ": names no organization");
    EXPECT_EQ(fileError(""), "--orgs-from " + (directory_ / "orgs.txt").string() + ": names no organization");
}

TEST_F(OrganizationSelectionTest, SelectionsAddUp) {
    auto selection = OrganizationSelection::fromList("9,3");
    selection.add(OrganizationSelection::fromFile(file("3\n1\n")));
    EXPECT_EQ(selection.ids(), (Ids{1, 3, 9}));
}

}  // namespace
}  // namespace bridge::migrations
