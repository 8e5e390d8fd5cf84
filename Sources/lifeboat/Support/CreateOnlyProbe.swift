import ObjectStore

/// Checks that `store` refuses to overwrite: writing `config` again, with the very same bytes, must
/// fail with `.alreadyExists`. A store that ignores `If-None-Match: *` overwrites instead (with the
/// same bytes, so nothing changes), and then two writers could replace each other's objects;
/// say so once, at `init`, where the operator can still choose another store.
func warnUnlessCreateOnly(_ store: any ObjectStore, output: Output) throws {
    do {
        let config = try store.get("config")
        try store.put(config, as: "config")
    } catch let error as ObjectStoreError where error.code == .alreadyExists {
        return
    } catch {
        // The repository exists already: a failed check is worth a warning, not a failed init.
        output.warning("\(store.location): could not check that the store refuses overwrites (\(error)); the repository is created")
        return
    }
    output.warning("\(store.location): the store does not enforce create-only writes (it ignored If-None-Match: *); Lifeboat's objects are content-named so backups stay correct, but two hosts writing the same WAL segment or key could overwrite each other; prefer a store that supports conditional writes")
}
