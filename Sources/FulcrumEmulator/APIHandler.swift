import Foundation
import HTTPTypes
import Hummingbird

/// One API call, read off the request: the path under `/api/v2` without `.json`, the query, the token and the body.
struct APICall {
    var method: HTTPRequest.Method
    /// `["memberships", "<id>"]` for `/api/v2/memberships/<id>.json`.
    var segments: [String]
    var query: [String: String]
    var token: String?
    var accept: String?
    var body: Data?

    init(request: Request, body: Data?) {
        method = request.method
        var path = String(request.uri.path.dropFirst("/api/v2/".count))
        if path.hasSuffix(".json") { path.removeLast(5) }
        segments = path.split(separator: "/").map(String.init)
        var query: [String: String] = [:]
        for (key, value) in request.uri.queryParameters { query[String(key)] = String(value).removingPercentEncoding ?? String(value) }
        self.query = query
        token = request.headers[HTTPField.Name("X-ApiToken")!] ?? query["token"]
        accept = request.headers[.accept]
        self.body = body
    }

    /// The route as `/_emulator/stats` counts it: ids replaced by `{id}`.
    var route: String {
        let names: Set = ["memberships", "groups", "roles", "users", "change_permissions", "members", "projects", "layers", "forms"]
        let path = segments.map { names.contains($0) ? $0 : "{id}" }.joined(separator: "/")
        return "\(method.rawValue) /\(path)"
    }
}

/// Answers one authenticated API call against the emulator's state, as Fulcrum would.
struct APIHandler {
    var state: Emulator.State
    let call: APICall
    var model: EmulatorModel {
        get { state.model }
        set { state.model = newValue }
    }

    init(state: Emulator.State, call: APICall) {
        self.state = state
        self.call = call
    }

    mutating func handle() -> Response {
        if let accept = call.accept, !accept.contains("application/json"), !accept.contains("*/*") {
            return Emulator.json(406, ["error": "Not Acceptable", "status": 406])
        }
        guard let secret = call.token, let token = model.tokens[secret], !token.revoked,
            let user = model.users[token.userID], let organization = model.organizations[token.organizationID],
            let actor = model.membership(userID: user.id, organizationID: organization.id)
        else {
            return Emulator.json(401, ["error": "Unauthorized"])
        }
        if !organization.developerPack {
            let status = state.behaviour.noDeveloperPackStatus
            let words = [401: "Unauthorized", 402: "Payment Required", 403: "Forbidden"][status] ?? "Forbidden"
            return Emulator.json(status, ["error": words, "status": status])
        }
        if let retryAfter = spend(userID: user.id) {
            state.throttled += 1
            var response = Emulator.json(429, ["error": "Too Many Requests", "status": 429])
            if state.behaviour.sendRetryAfter { response.headers[.retryAfter] = "\(retryAfter)" }
            return response
        }
        do {
            return try route(actor: actor, organization: organization, user: user)
        } catch EmulatorError.notFound {
            return Emulator.json(404, ["error": "Not Found", "status": 404])
        } catch EmulatorError.validation(let resource, let field, let message) {
            return Emulator.json(422, [resource: ["errors": [field: [message]]]])
        } catch let error as BadRequest {
            return Emulator.json(422, [error.resource: ["errors": error.message]])
        } catch {
            return Emulator.json(500, ["error": "Internal Server Error", "status": 500])
        }
    }

    /// Counts a call against the user's hour; the seconds until a call is allowed again when the budget is spent.
    mutating func spend(userID: String) -> Int? {
        let now = Date()
        let hourAgo = now.addingTimeInterval(-3600)
        var calls = state.calls[userID, default: []]
        if let firstKept = calls.firstIndex(where: { $0 > hourAgo }) { calls.removeFirst(firstKept) } else { calls.removeAll() }
        if calls.count >= state.behaviour.callsPerHour {
            state.calls[userID] = calls
            let oldest = calls[calls.count - state.behaviour.callsPerHour]
            return max(1, Int((oldest.timeIntervalSince(hourAgo)).rounded(.up)))
        }
        calls.append(now)
        state.calls[userID] = calls
        return nil
    }

    struct BadRequest: Error {
        var resource: String
        var message: String
    }

    /// The body's object under `root`; a body that is not JSON is Fulcrum's 422 with a string error.
    func object(_ root: String, required: Bool = true) throws -> [String: Any] {
        guard let data = call.body, !data.isEmpty else {
            if required { throw BadRequest(resource: root, message: "\(root) is missing") }
            return [:]
        }
        guard let json = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw BadRequest(
                resource: root,
                message: "Invalid JSON structure. Did you remember to add the \"Content-Type: application/json\" header?"
            )
        }
        guard let inner = json[root] as? [String: Any] else {
            if required { throw BadRequest(resource: root, message: "\(root) is missing") }
            return [:]
        }
        return inner
    }

    mutating func route(actor: EmulatorModel.Membership, organization: EmulatorModel.Organization, user: EmulatorModel.User) throws -> Response {
        let s = call.segments
        switch (call.method, s.count, s.first ?? "") {
        case (.get, 1, "users"): return whoami(user: user)
        case (.get, 1, "roles"):
            let roles = organization.roles.map(Self.render)
            return page("roles", roles)
        case (.get, 1, "memberships"):
            let managedInfo = call.query["managed_info"] == "1" || call.query["managed_info"] == "true"
            return page("memberships", model.memberships(of: organization.id).map { render($0, managedInfo: managedInfo) })
        case (.get, 2, "memberships"):
            guard let membership = model.memberships[s[1]], membership.organizationID == organization.id else { throw EmulatorError.notFound }
            return Emulator.json(200, ["membership": render(membership, managedInfo: false)])
        case (.post, 1, "memberships"):
            let body = try object("membership")
            let membership = try model.addMembership(
                organizationID: organization.id,
                email: body["email"] as? String ?? "",
                firstName: body["first_name"] as? String,
                lastName: body["last_name"] as? String,
                roleID: body["role_id"] as? String,
                managed: state.behaviour.apiCreatesManaged
            )
            return Emulator.json(state.behaviour.membershipCreateStatus, ["membership": render(membership, managedInfo: false)])
        case (.put, 2, "memberships"):
            let body = try object("membership")
            let membership = try model.updateMembership(
                id: s[1],
                organizationID: organization.id,
                email: body["email"] as? String,
                firstName: body["first_name"] as? String,
                lastName: body["last_name"] as? String,
                roleID: body["role_id"] as? String
            )
            return Emulator.json(200, ["membership": render(membership, managedInfo: false)])
        case (.delete, 2, "memberships"):
            // The body (`{"membership":{"reassign_to_membership_id":null}}`) is optional; records stay either way.
            try model.removeMembership(id: s[1], organizationID: organization.id, actingUserID: user.id)
            return Emulator.json(200, nil)
        case (.get, 1, "groups"):
            let associations = call.query["associations"] == "true"
            return page("groups", model.groups(of: organization.id).map { Self.render($0, associations: associations) })
        case (.post, 2, "groups") where s[1] == "change_permissions":
            return try changePermissions(organization: organization)
        case (.get, 2, "groups"):
            let group = try group(s[1], organization)
            return Emulator.json(200, ["group": Self.render(group, associations: call.query["associations"] == "true")])
        case (.get, 3, "groups") where s[2] == "members":
            let group = try group(s[1], organization)
            return page("members", group.memberIDs.compactMap { model.memberships[$0] }.map { render($0, managedInfo: false) })
        case (.get, 3, "groups") where ["projects", "layers", "forms"].contains(s[2]):
            _ = try group(s[1], organization)
            return page(s[2], [])
        case (.post, 1, "groups"):
            let body = try object("group")
            var group = try model.addGroup(
                organizationID: organization.id,
                name: body["name"] as? String ?? "",
                description: body["description"] as? String,
                managed: state.behaviour.apiCreatesManaged
            )
            if state.behaviour.groupCreateAddsCreator {
                try model.changeGroupMembers(groupID: group.id, organizationID: organization.id, adding: [actor.id], removing: [], strict: false)
                group = model.groups[group.id] ?? group
            }
            return Emulator.json(201, ["group": Self.render(group, associations: false)])
        case (.put, 2, "groups"):
            var group = try group(s[1], organization)
            let body = try object("group")
            guard !body.isEmpty else { return Emulator.json(400, nil) }
            if let name = body["name"] as? String {
                guard !name.trimmingCharacters(in: .whitespaces).isEmpty else {
                    throw EmulatorError.validation(resource: "group", field: "name", message: "can't be blank")
                }
                group.name = name
            }
            if body.keys.contains("description") { group.description = body["description"] as? String }
            model.groups[group.id] = group
            return Emulator.json(200, ["group": Self.render(group, associations: false)])
        case (.delete, 2, "groups"):
            let group = try group(s[1], organization)
            model.groups[group.id] = nil
            model.groupOrder.removeAll { $0 == group.id }
            return Emulator.json(204, nil)
        default:
            return Emulator.json(404, ["error": "Not Found", "status": 404])
        }
    }

    func group(_ id: String, _ organization: EmulatorModel.Organization) throws -> EmulatorModel.Group {
        guard let group = model.groups[id], group.organizationID == organization.id else { throw EmulatorError.notFound }
        return group
    }

    /// `POST /groups/change_permissions`: the `change` wrapper (and `permission_change` when switched on); all ids are
    /// checked before anything changes. Success returns nothing.
    mutating func changePermissions(organization: EmulatorModel.Organization) throws -> Response {
        let wrapper: [String: Any]
        do {
            wrapper = try object("change")
        } catch {
            guard state.behaviour.acceptPermissionChange, let other = try? object("permission_change") else {
                // The OpenAPI documents this endpoint's 400 as text/plain with an empty body.
                return Response(status: .badRequest, headers: [.contentType: "text/plain"])
            }
            wrapper = other
        }
        let type = wrapper["type"] as? String ?? ""
        let groupID = wrapper["group_id"] as? String ?? ""
        let add = wrapper["add"] as? [String] ?? []
        let remove = wrapper["remove"] as? [String] ?? []
        switch type {
        case "group_members":
            try model.changeGroupMembers(
                groupID: groupID,
                organizationID: organization.id,
                adding: add,
                removing: remove,
                strict: state.behaviour.strictGroupChanges
            )
        case "group_projects", "group_layers", "group_forms":
            _ = try group(groupID, organization)
            // The emulator has no apps, projects or layers: any id is unknown.
            if let unknown = (add + remove).first {
                throw EmulatorError.validation(resource: "group", field: type, message: "\(unknown) does not exist or you don't have access to it")
            }
        default:
            throw EmulatorError.validation(resource: "group", field: "type", message: "is invalid")
        }
        return Emulator.json(200, nil)
    }

    // MARK: Rendering

    func whoami(user: EmulatorModel.User) -> Response {
        let token = model.tokens[call.token ?? ""]
        let ownMemberships = model.membershipOrder.compactMap { model.memberships[$0] }.filter { $0.userID == user.id }
        let contexts: [[String: Any]] = ownMemberships.compactMap { membership in
            guard let organization = model.organizations[membership.organizationID] else { return nil }
            let role = organization.roles.first { $0.id == membership.roleID }
            return [
                "id": organization.id, "name": organization.name, "type": "organization", "domain": NSNull(),
                "image_small": NSNull(), "image_large": NSNull(),
                "role": role.map(Self.render) ?? NSNull(),
                "plan": ["id": organization.id, "name": organization.name, "slug": "enterprise", "webhooks_enabled": true],
            ]
        }
        let current = token.flatMap { model.organizations[$0.organizationID] }
        let body: [String: Any] = [
            "user": [
                "id": user.id, "first_name": user.firstName, "last_name": user.lastName, "email": user.email, "phone_number": NSNull(),
                "image_small": NSNull(), "image_large": NSNull(),
                "current_organization": current.map { ["id": $0.id, "name": $0.name] as [String: Any] } ?? NSNull(),
                "contexts": contexts,
                "access": ["allowed": true],
            ] as [String: Any]
        ]
        return Emulator.json(200, body)
    }

    static func render(_ role: EmulatorModel.Role) -> [String: Any] {
        let owner = role.isOwner
        let manager = owner || role.name == "Manager"
        return [
            "id": role.id, "name": role.name, "is_system": true, "is_default": role.isDefault,
            "can_manage_subscription": owner, "can_update_organization": owner, "can_manage_members": manager,
            "can_manage_roles": owner, "can_manage_authorizations": owner, "can_manage_groups": manager,
            "can_create_records": true, "can_update_records": role.name != "Record Creator",
            "created_at": "2013-10-15T17:40:25Z", "updated_at": "2013-10-15T17:40:25Z",
        ]
    }

    func render(_ membership: EmulatorModel.Membership, managedInfo: Bool) -> [String: Any] {
        let user = model.users[membership.userID]
        let first = user?.firstName ?? ""
        let last = user?.lastName ?? ""
        var object: [String: Any] = [
            "id": membership.id, "user_id": membership.userID, "role_id": membership.roleID,
            "first_name": first, "last_name": last, "email": user?.email ?? "",
            "user": [first, last].filter { !$0.isEmpty }.joined(separator: " "),
            "gravatar_email": NSNull(), "created_at": membership.createdAt, "updated_at": membership.updatedAt,
        ]
        if managedInfo {
            object["managed"] = membership.managed
            object["status"] = "active"
            object["role_name"] = model.organizations[membership.organizationID]?.roles.first { $0.id == membership.roleID }?.name ?? ""
        }
        return object
    }

    static func render(_ group: EmulatorModel.Group, associations: Bool) -> [String: Any] {
        var object: [String: Any] = ["id": group.id, "name": group.name, "description": group.description ?? NSNull()]
        if associations {
            object["member_ids"] = group.memberIDs
            object["layer_ids"] = [String]()
            object["project_ids"] = [String]()
            object["form_ids"] = [String]()
        }
        return object
    }

    /// A list with Fulcrum's pagination fields at the root; `per_page` defaults to and is clamped at 20,000.
    func page(_ key: String, _ items: [[String: Any]]) -> Response {
        let perPage = min(max(Int(call.query["per_page"] ?? "") ?? 20000, 1), 20000)
        let pageNumber = max(Int(call.query["page"] ?? "") ?? 1, 1)
        let totalPages = items.isEmpty ? state.behaviour.emptyListTotalPages : (items.count + perPage - 1) / perPage
        let start = min((pageNumber - 1) * perPage, items.count)
        let slice = Array(items[start..<min(start + perPage, items.count)])
        return Emulator.json(
            200,
            [key: slice, "current_page": pageNumber, "total_pages": totalPages, "total_count": items.count, "per_page": perPage]
        )
    }
}
