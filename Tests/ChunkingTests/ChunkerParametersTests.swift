import FoundationEssentials
import Testing
import Chunking

@Suite struct ChunkerParametersTests {
    @Test func theDefaultIsValid() throws {
        let p = ChunkerParameters.default
        #expect(p.minimumSize == 512 << 10)
        #expect(p.averageSize == 1 << 20)
        #expect(p.maximumSize == 8 << 20)
        try p.validate()
    }

    @Test(arguments: [
        (ChunkerParameters(minimumSize: 32, averageSize: 1024, maximumSize: 8192), "minimumSize"),
        (ChunkerParameters(minimumSize: 512, averageSize: 1000, maximumSize: 8192), "averageSize"),
        (ChunkerParameters(minimumSize: 512, averageSize: 0, maximumSize: 8192), "averageSize"),
        (ChunkerParameters(minimumSize: 1024, averageSize: 1024, maximumSize: 8192), "minimumSize"),
        (ChunkerParameters(minimumSize: 512, averageSize: 1024, maximumSize: 1024), "maximumSize"),
        (ChunkerParameters(minimumSize: 1 << 20, averageSize: 32 << 20, maximumSize: 65 << 20), "maximumSize"),
    ])
    func invalidParametersAreRejectedByName(parameters: ChunkerParameters, field: String) {
        do {
            try parameters.validate()
            Issue.record("\(parameters) was accepted")
        } catch let error as ChunkingError {
            #expect(error.code == .invalidParameters)
            #expect(error.message.contains(field), "\(error.message)")
        } catch {
            Issue.record("unexpected error \(error)")
        }
    }

    @Test func theLargestAllowedParametersAreValid() throws {
        try ChunkerParameters(minimumSize: 64, averageSize: 32 << 20, maximumSize: 64 << 20).validate()
        try ChunkerParameters(minimumSize: 64, averageSize: 128, maximumSize: 129).validate()
    }

    @Test func codableRoundTripAndDecodingValidates() throws {
        let encoded = try JSONEncoder().encode(ChunkerParameters.default)
        #expect(try JSONDecoder().decode(ChunkerParameters.self, from: encoded) == .default)

        let bad = Data(#"{"minimumSize": 512, "averageSize": 1000, "maximumSize": 8192}"#.utf8)
        #expect(throws: ChunkingError(.invalidParameters, "")) {
            try JSONDecoder().decode(ChunkerParameters.self, from: bad)
        }
    }
}
