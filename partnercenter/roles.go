package partnercenter

import "strings"

// EntraRole is a built-in Microsoft Entra role that GDAP can grant, by role template ID.
type EntraRole struct {
	ID   string
	Name string
}

// EntraRoles lists the built-in roles partners commonly request through GDAP. GDAP accepts only
// built-in role template IDs, never custom roles.
var EntraRoles = []EntraRole{
	{GlobalAdministratorRoleID, "Global Administrator"},
	{"f2ef992c-3afb-46b9-b7cf-a126ee74c451", "Global Reader"},
	{"88d8e3e3-8f55-4a1e-953a-9b9898b8876b", "Directory Readers"},
	{"9360feb5-f418-4baa-8175-e2a00bac4301", "Directory Writers"},
	{"fe930be7-5e62-47db-91af-98c3a49a38b1", "User Administrator"},
	{"729827e3-9c14-49f7-bb1b-9608f156bbb8", "Helpdesk Administrator"},
	{"c4e39bd9-1100-46d3-8c65-fb160da0071f", "Authentication Administrator"},
	{"e8611ab8-c189-46e8-94e1-60213ab1f814", "Privileged Role Administrator"},
	{"b0f54661-2d74-4c50-afa3-1ec803f12efe", "Billing Administrator"},
	{"4d6ac14f-3453-41d0-bef9-a3e0c569773a", "License Administrator"},
	{"f023fd81-a637-4b56-95fd-791ac0226033", "Service Support Administrator"},
	{"29232cdf-9323-42fd-ade2-1d097af3e4de", "Exchange Administrator"},
	{"f28a1f50-f6e7-4571-818b-6a12f2af6b6c", "SharePoint Administrator"},
	{"69091246-20e8-4a56-aa4d-066075b2a7a8", "Teams Administrator"},
	{"3a2c62db-5318-420d-8d74-23affee5d9d5", "Intune Administrator"},
	{"194ae4cb-b126-40b2-bd5b-6091b380977d", "Security Administrator"},
	{"5d6b6bb7-de71-4623-b4af-96380a352509", "Security Reader"},
	{"b1be1c3e-b65d-4f19-8427-f6fa0d97feb9", "Conditional Access Administrator"},
	{"9b895d92-2cd3-44c7-9d02-a6ac2d5ea5c3", "Application Administrator"},
	{"158c047a-c907-4556-b7ef-446551a6b5f7", "Cloud Application Administrator"},
}

// LookupEntraRole finds a built-in role by template ID or by name (case-insensitive).
func LookupEntraRole(idOrName string) (EntraRole, bool) {
	for _, r := range EntraRoles {
		if strings.EqualFold(r.ID, idOrName) || strings.EqualFold(r.Name, idOrName) {
			return r, true
		}
	}
	return EntraRole{}, false
}
