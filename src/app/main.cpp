// orders-service: entry point. Parses the command line and runs the chosen command.
#include <exception>
#include <iostream>

#include "app/auth_setup.hpp"
#include "app/config.hpp"
#include "app/openapi_command.hpp"
#include "app/serve.hpp"

int main(int argc, char** argv) {
    using svc::app::command;
    try {
        auto parsed = svc::app::parse_command_line(argc, argv, std::cout, std::cerr);
        if (!parsed.invocation) return parsed.exit_code;
        const auto& run = *parsed.invocation;
        switch (run.command) {
            case command::version:
                return svc::app::version();
            case command::healthcheck:
                return svc::app::healthcheck(run.config);
            case command::openapi:
                return svc::app::print_openapi(std::cout);
            case command::serve:
                return svc::app::serve(run.config);
            case command::migrate:
                return svc::app::migrate(run.config);
            case command::token:
                return svc::app::mint_token(
                    run.config.auth,
                    svc::app::database_url(run.config),
                    run.config.data_dir,
                    run.token,
                    std::cout,
                    std::cerr
                );
        }
    } catch (const std::exception& e) {
        std::cerr << "orders-service: " << e.what() << '\n';
    }
    return 1;
}
