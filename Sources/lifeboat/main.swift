import Glibc
import Repository

let commands: [any Command.Type] = [
    InitCommand.self, BackupCommand.self, RestoreCommand.self, SnapshotsCommand.self, LsCommand.self,
    DumpCommand.self, DiffCommand.self, CheckCommand.self, StatsCommand.self, KeyCommand.self,
    ReplicateCommand.self, RegionsCommand.self, UndeleteCommand.self, RetentionCommand.self, VersionCommand.self, DebugCommand.self,
]

@MainActor
func mainHelp() -> String {
    var text = """
    lifeboat: backup and disaster recovery with proven restores

    Usage: lifeboat COMMAND [options]

    Commands:

    """
    for command in commands {
        text += "  \(command.name)\(String(repeating: " ", count: max(1, 12 - command.name.count)))\(command.summary)\n"
    }
    text += """

    Repository: --repo PATH or LIFEBOAT_REPOSITORY; several regions: --repo NAME=LOCATION
    repeated (backup fans out to all; read commands take --region NAME).
    Password: LIFEBOAT_PASSWORD_FILE, LIFEBOAT_PASSWORD_COMMAND, LIFEBOAT_PASSWORD, or a prompt.
    Exit codes: 0 success, 1 failure, 2 usage, 3 some source data unreadable, 4 a region was
    unreachable (the others hold the result), 10 no repository, 12 wrong password,
    130 interrupted. 'lifeboat COMMAND --help' shows a command's options.
    """
    return text
}

@MainActor
func runMain() -> Int32 {
    installSignalHandlers()
    configureMemoryAllocator()
    var arguments = Array(CommandLine.arguments.dropFirst())
    guard let name = arguments.first, name != "--help", name != "-h", name != "help" else {
        if arguments.count >= 2, let command = commands.first(where: { $0.name == arguments[1] }) {
            print(command.help, terminator: "")
        } else {
            print(mainHelp())
        }
        return arguments.isEmpty ? ExitCode.usage.rawValue : ExitCode.success.rawValue
    }
    if name == "--version" { arguments[0] = "version" }
    guard let command = commands.first(where: { $0.name == arguments[0] }) else {
        let output = Output(json: false, quiet: false)
        output.error("unknown command '\(name)'; see 'lifeboat --help'", code: "usage", exitCode: 2)
        return ExitCode.usage.rawValue
    }
    let rest = Array(arguments.dropFirst())
    let wantsJSON = rest.contains("--json")
    let output = Output(json: wantsJSON, quiet: rest.contains("--quiet") || rest.contains("-q"))
    do {
        let parsed = try Arguments(rest, specs: command.options, command: command.name)
        if parsed.has("help") {
            print(command.help, terminator: "")
            return ExitCode.success.rawValue
        }
        let context = Context(arguments: parsed, output: output, command: command.name)
        return try command.run(context).rawValue
    } catch {
        let (exitCode, code) = ExitCode.of(error)
        output.error("\(error)", code: code, exitCode: exitCode.rawValue)
        return exitCode.rawValue
    }
}

exit(runMain())
