#include "app/Commands.h"

int main(int argc, char** argv) { return bridge::app::runCommandLine({argv + 1, argv + argc}); }
